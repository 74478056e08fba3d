import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { startRecordedUpstream, type RecordedUpstream } from './helpers/remote-upstream.js';
import { obtainTokens } from './helpers/tokens.js';

describe('remote MCP upstream (server-everything over Streamable HTTP)', () => {
  let gw: TestGateway;
  let upstream: RecordedUpstream;
  let token = '';

  before(async () => {
    upstream = await startRecordedUpstream();
    gw = await startTestGateway({
      mcpServers: {
        everything: { url: upstream.url, headers: { 'X-Upstream-Key': 'configured-secret' } },
        dead: { url: 'http://127.0.0.1:1/mcp' },
      },
    });
    token = (await obtainTokens(gw.url, 'everything', ALICE)).access_token;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it("lists and calls tools, with progress streamed, and never forwards the client's token", async () => {
    const client = new McpTestClient(`${gw.url}/mcp/everything`, token);
    const init = await client.initialize();
    assert.ok(client.sessionId, 'the upstream session id comes through');
    assert.ok((init.serverInfo as { name: string }).name);
    const tools = await client.request('tools/list');
    const names = (tools.result.tools as Array<{ name: string }>).map((t) => t.name);
    assert.ok(names.includes('echo'));
    const echo = await client.callTool('echo', { message: 'through the proxy' });
    assert.match(JSON.stringify(echo.result), /through the proxy/);
    const long = await client.callTool('trigger-long-running-operation', { duration: 1, steps: 3 }, 'lr', { progressToken: 'p-1' });
    const progress = long.related.filter((m) => 'method' in m && m.method === 'notifications/progress');
    assert.equal(progress.length, 3);
    assert.equal(long.reply.contentType.includes('text/event-stream'), true);
    assert.ok(long.result);

    const seenHeaders = upstream.exchanges.map((exchange) => exchange.requestHeaders);
    assert.ok(seenHeaders.length >= 4);
    for (const headers of seenHeaders) {
      assert.equal(headers.authorization, undefined, 'no Authorization upstream');
      assert.equal(headers.cookie, undefined);
      assert.ok(!JSON.stringify(headers).includes(token), 'the token appears nowhere upstream');
      assert.equal(headers['x-upstream-key'], 'configured-secret');
    }
  });

  it('still requires a valid token in front of the upstream', async () => {
    const client = new McpTestClient(`${gw.url}/mcp/everything`, 'forged.token.value');
    const reply = await client.post({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.equal(reply.status, 401);
  });

  it('turns an unreachable upstream into a clear 502', async () => {
    const deadToken = (await obtainTokens(gw.url, 'dead', ALICE)).access_token;
    const client = new McpTestClient(`${gw.url}/mcp/dead`, deadToken);
    const reply = await client.post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    assert.equal(reply.status, 502);
    assert.match(JSON.stringify(reply.messages), /remote MCP server \\"dead\\" is unreachable/);
  });
});
