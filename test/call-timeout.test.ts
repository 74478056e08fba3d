import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { bridgeFixture, textOf } from './helpers/bridge-fixture.js';
import { startTestGateway, testConfigJson, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { startRecordedUpstream, type RecordedUpstream } from './helpers/remote-upstream.js';
import { obtainTokens } from './helpers/tokens.js';

// Claude.ai and ChatGPT wait 300 s for a tool call: the gateway's callTimeout must not give up
// before they do, and a call that reports progress is alive however long it runs.

/** The fixture's `progress` tool sends one notification every 5 ms or so: 400 steps outlast a 1 s callTimeout. */
const LONGER_THAN_A_SECOND = { steps: 400, label: 'long' };

describe('callTimeout', () => {
  it('defaults to 300 s for stdio and remote servers, the time Claude.ai and ChatGPT wait for a tool call', async () => {
    const json = await testConfigJson({ mcpServers: { local: bridgeFixture, remote: { url: 'https://mcp.example.com/mcp' } } });
    const config = parseConfig(json, 'test config');
    assert.equal(config.mcpServers.local!.callTimeout, 300);
    assert.equal(config.mcpServers.remote!.callTimeout, 300);
  });

  describe('with progress', () => {
    let gw: TestGateway;
    let upstream: RecordedUpstream;
    const client = async (server: string) => {
      const c = new McpTestClient(`${gw.url}/mcp/${server}`, (await obtainTokens(gw.url, server)).access_token);
      await c.initialize();
      return c;
    };

    before(async () => {
      upstream = await startRecordedUpstream();
      gw = await startTestGateway({
        mcpServers: { stdio: { ...bridgeFixture, callTimeout: '1s' }, remote: { url: upstream.url, callTimeout: '1s' } },
      });
    });
    after(async () => {
      await gw.close();
      await upstream.close();
    });

    it('stdio: a call that reports progress outlives callTimeout; the same call without progress times out', async () => {
      const c = await client('stdio');
      const alive = await c.callTool('progress', LONGER_THAN_A_SECOND, 'alive', { progressToken: 'p' });
      assert.equal(textOf(alive.result), 'done long', JSON.stringify(alive.error));
      assert.ok(alive.related.length >= LONGER_THAN_A_SECOND.steps, 'the progress reached the client');
      const silent = await c.callTool('progress', LONGER_THAN_A_SECOND, 'silent');
      assert.equal(silent.error?.code, -32001);
      assert.match(silent.error?.message ?? '', /"stdio" did not answer tools\/call within 1s/);
    });

    it('remote: a call that reports progress outlives callTimeout; the same call without progress is cut', async () => {
      const c = await client('remote');
      const args = { duration: 3, steps: 12 };
      const alive = await c.callTool('trigger-long-running-operation', args, 'alive', { progressToken: 'p' });
      assert.ok(alive.result, JSON.stringify(alive.error));
      assert.equal(alive.related.filter((m) => 'method' in m && m.method === 'notifications/progress').length, 12);
      // Without progress nothing flows for 3 s: the stream, whose headers went out, is cut at callTimeout.
      const silent = await c.callTool('trigger-long-running-operation', args, 'silent').catch(() => undefined);
      assert.equal(silent?.result, undefined, 'the same call without progress gets no result');
    });
  });
});
