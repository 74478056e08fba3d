import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { packageRoot } from '../src/paths.js';
import { textOf } from './helpers/bridge-fixture.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { ModernTestClient } from './helpers/modern-client.js';
import { startModernUpstream, type ModernUpstream } from './helpers/modern-upstream.js';
import { obtainTokens } from './helpers/tokens.js';
import { sleep, waitFor } from './helpers/wait.js';
import type { JsonRpcMessage } from '../src/mcp/jsonrpc.js';

const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

const modernStdio = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/modern-stdio-server.js')] };

/**
 * Backends that speak MCP 2026-07-28 themselves (the SDK v2 server): a stdio one, found with a
 * server/discover probe, and a remote one. Modern clients' requests reach them as sent, and their
 * own input_required and requestState reach the client untouched; 2025 clients of the stdio one
 * still get sessions, on a process of their own era.
 */
describe('backends of the modern era', { timeout: 120_000 }, () => {
  let gw: TestGateway;
  let upstream: ModernUpstream;
  let native = '';
  let remote = '';
  let onlyModern = '';
  let quick = '';

  before(async () => {
    upstream = await startModernUpstream();
    const modernOnly = { ...modernStdio, args: [...modernStdio.args, '--modern-only'] };
    gw = await startTestGateway({
      mcpServers: { native: modernStdio, modernOnly, quick: { ...modernStdio, callTimeout: '1s' }, remote: { url: upstream.url } },
    });
    native = (await obtainTokens(gw.url, 'native', ALICE)).access_token;
    remote = (await obtainTokens(gw.url, 'remote', ALICE)).access_token;
    onlyModern = (await obtainTokens(gw.url, 'modernOnly', ALICE)).access_token;
    quick = (await obtainTokens(gw.url, 'quick', ALICE)).access_token;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('the SDK v2 client in front of a modern stdio server: discover, calls and its own input_required, passed through', async () => {
    const client = new ModernClient(
      { name: 'sdk-v2-native', version: '1.0.0' },
      { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } },
    );
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { ok: true } }));
    const endpoint = new URL(`${gw.url}/mcp/native`);
    await client.connect(new ModernTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${native}` } } }));
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.equal(client.getServerVersion()?.name, 'modern-fixture');
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'native' } });
      assert.equal(textOf(echoed as { content?: Array<{ text?: string }> }), 'native');
      // The server's own requestState came back to it: the gateway neither parked nor signed anything.
      const confirmed = await client.callTool({ name: 'confirm', arguments: { action: 'deploy' } });
      assert.equal(textOf(confirmed as { content?: Array<{ text?: string }> }), 'deploy: confirmed (state fixture-state:deploy)');
    } finally {
      await client.close();
    }
  });

  it("a raw modern request sees the server's own input_required and discover result as the server gave them", async () => {
    const client = new ModernTestClient(`${gw.url}/mcp/native`, native, { elicitation: {} });
    const asked = await client.request('tools/call', { name: 'confirm', arguments: { action: 'ship' } });
    assert.equal(asked.result.resultType, 'input_required');
    assert.equal(asked.result.requestState, 'fixture-state:ship', "the server's own state, not the gateway's");
    const retried = await client.request('tools/call', {
      name: 'confirm',
      arguments: { action: 'ship' },
      inputResponses: { confirm: { action: 'accept', content: { ok: false } } },
      requestState: asked.result.requestState,
    });
    assert.equal(textOf(retried.result), 'ship: refused (state fixture-state:ship)');
    const discovered = await client.request('server/discover');
    assert.deepEqual(discovered.result.supportedVersions, ['2026-07-28'], "the server's own list, not the gateway's");
  });

  it("subscriptions/listen reaches the stdio server's own stream, under the client's subscription id", async () => {
    const client = new ModernTestClient(`${gw.url}/mcp/native`, native);
    const stream = await client.listen({ toolsListChanged: true }, 'my-listen');
    try {
      assert.equal(stream.status, 200);
      const subscriptionOf = (message: unknown) =>
        (message as { params?: { _meta?: Record<string, unknown> } }).params?._meta?.[SUBSCRIPTION_ID];
      const acknowledged = await waitFor(
        () => stream.messages.find((m) => 'method' in m && m.method === 'notifications/subscriptions/acknowledged'),
        {
          message: 'the acknowledgement',
        },
      );
      assert.equal(subscriptionOf(acknowledged), 'my-listen');
      await client.request('tools/call', { name: 'announce' });
      const changed = await waitFor(() => stream.messages.find((m) => 'method' in m && m.method === 'notifications/tools/list_changed'), {
        message: 'the list change on the listen stream',
      });
      assert.equal(subscriptionOf(changed), 'my-listen');
    } finally {
      stream.close();
    }
  });

  it('a subscription outlives callTimeout: it is answered only when it ends', async () => {
    const client = new ModernTestClient(`${gw.url}/mcp/quick`, quick);
    const stream = await client.listen({ toolsListChanged: true }, 'long-listen');
    try {
      const isChange = (m: JsonRpcMessage) => 'method' in m && m.method === 'notifications/tools/list_changed';
      await waitFor(() => stream.messages.some((m) => 'method' in m && m.method === 'notifications/subscriptions/acknowledged'), {
        message: 'the acknowledgement',
      });
      await sleep(1_500); // the server's callTimeout (1 s) must pass on the clock
      await client.request('tools/call', { name: 'announce' });
      await waitFor(() => stream.messages.some(isChange), {
        message: () => `the list change after callTimeout (stream: ${JSON.stringify(stream.messages)})`,
      });
      assert.ok(!stream.messages.some((m) => 'error' in m), 'the subscription was not timed out');
    } finally {
      stream.close();
    }
  });

  it('a 2025 client of the same stdio server gets a session, on a process of its own era', async () => {
    const client = new LegacyClient({ name: 'sdk-v1-native', version: '1.0.0' });
    const transport = new LegacyTransport(new URL(`${gw.url}/mcp/native`), {
      requestInit: { headers: { authorization: `Bearer ${native}` } },
    });
    await client.connect(transport);
    try {
      assert.ok(transport.sessionId);
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'legacy' } });
      assert.equal(textOf(echoed as { content?: Array<{ text?: string }> }), 'legacy');
      const legacyPid = textOf((await client.callTool({ name: 'pid', arguments: {} })) as { content?: Array<{ text?: string }> });
      const modernPid = textOf((await new ModernTestClient(`${gw.url}/mcp/native`, native).request('tools/call', { name: 'pid' })).result);
      assert.ok(legacyPid && modernPid);
      assert.notEqual(legacyPid, modernPid, 'a stdio process keeps the era of its first message: one process per era');
    } finally {
      await client.close();
    }
  });

  it('a 2025 client of a server that speaks only 2026-07-28: a session, and its input_required asked as an elicitation', async () => {
    const client = new LegacyClient({ name: 'sdk-v1-modern-only', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    let asked = '';
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked = request.params.message;
      return { action: 'accept', content: { ok: true } };
    });
    const transport = new LegacyTransport(new URL(`${gw.url}/mcp/modernOnly`), {
      requestInit: { headers: { authorization: `Bearer ${onlyModern}` } },
    });
    await client.connect(transport);
    try {
      assert.ok(transport.sessionId);
      assert.equal(client.getServerVersion()?.name, 'modern-fixture');
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'translated' } });
      assert.equal(textOf(echoed as { content?: Array<{ text?: string }> }), 'translated');
      const confirmed = await client.callTool({ name: 'confirm', arguments: { action: 'launch' } });
      assert.equal(asked, 'Really launch?');
      // The retry carried the answer and the server's own requestState.
      assert.equal(textOf(confirmed as { content?: Array<{ text?: string }> }), 'launch: confirmed (state fixture-state:launch)');
    } finally {
      await client.close();
    }
    const modern = await new ModernTestClient(`${gw.url}/mcp/modernOnly`, onlyModern).request('tools/call', {
      name: 'echo',
      arguments: { text: 'as sent' },
    });
    assert.equal(textOf(modern.result), 'as sent');
  });

  it('a remote server that speaks 2026-07-28 gets modern requests as they are, its input_required untouched', async () => {
    const client = new ModernTestClient(`${gw.url}/mcp/remote`, remote, { elicitation: {} });
    const asked = await client.request('tools/call', { name: 'confirm', arguments: { action: 'merge' } });
    assert.equal(asked.result.resultType, 'input_required');
    assert.equal(asked.result.requestState, 'fixture-state:merge');
    const retried = await client.request('tools/call', {
      name: 'confirm',
      arguments: { action: 'merge' },
      inputResponses: { confirm: { action: 'accept', content: { ok: true } } },
      requestState: asked.result.requestState,
    });
    assert.equal(textOf(retried.result), 'merge: confirmed (state fixture-state:merge)');
    assert.ok(!upstream.methods.includes('initialize'), 'no 2025 session was opened upstream for them');
    // A 2025 client of the same URL is proxied as before (the SDK's stateless 2025 fallback answers it).
    const legacy = new McpTestClient(`${gw.url}/mcp/remote`, remote);
    await legacy.initialize();
    const echo = await legacy.callTool('echo', { text: 'legacy remote' });
    assert.match(JSON.stringify(echo.result), /legacy remote/);
  });
});
