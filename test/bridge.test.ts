/* eslint-disable max-lines -- one gateway with six stdio servers, and the bridge behaviours that share it */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const textOf = (result: { content?: Array<{ text?: string }> } | undefined) => result?.content?.[0]?.text;
/** The fixture's counter `tool` (running_count, cancelled_count) as seen through session `c`. */
const countOf = async (c: McpTestClient, tool: string) => Number(textOf((await c.callTool(tool)).result));

describe('stdio bridge', () => {
  let gw: TestGateway;
  const tokens: Record<string, Record<string, string>> = {};
  const servers = ['shared', 'peruser', 'persession', 'hangs', 'broken', 'missing'];

  before(async () => {
    gw = await startTestGateway({
      mcpServers: {
        shared: { ...fixture, isolation: 'shared' },
        // Room for the earlier tests' idle sessions beside the 1,000-session cycle (no eviction there).
        peruser: { ...fixture, isolation: 'per-user', limits: { sessionsPerPerson: 50 } },
        persession: { ...fixture, isolation: 'per-session' },
        hangs: { ...fixture, isolation: 'shared', callTimeout: '1s' },
        broken: { ...fixture, env: { BRIDGE_TEST_FAIL_AT_START: '1' } },
        missing: { command: '/nonexistent/mcp-server', args: [] },
      },
    });
    for (const user of [ALICE, BOB]) {
      tokens[user.email] = {};
      for (const server of servers) tokens[user.email]![server] = (await obtainTokens(gw.url, server, user)).access_token;
    }
  });
  after(async () => {
    await gw.close();
  });

  const client = async (server: string, user = ALICE, capabilities: Record<string, unknown> = {}) => {
    const c = new McpTestClient(`${gw.url}/mcp/${server}`, tokens[user.email]![server]!, capabilities);
    await c.initialize();
    return c;
  };

  it('answers initialize from the warm process and keeps it warm across calls and sessions', async () => {
    const a = await client('peruser');
    const pid = textOf((await a.callTool('whoami')).result);
    assert.match(pid ?? '', /^\d+$/);
    const b = await client('peruser');
    assert.equal(textOf((await b.callTool('whoami')).result), pid, 'same user, same warm process');
    assert.equal(textOf((await a.callTool('echo', { text: 'hello' })).result), 'hello');
  });

  it('isolates processes per user, per session, or shares one', async () => {
    const pidOf = async (server: string, user = ALICE) => textOf((await (await client(server, user)).callTool('whoami')).result);
    assert.notEqual(await pidOf('peruser', ALICE), await pidOf('peruser', BOB));
    assert.equal(await pidOf('shared', ALICE), await pidOf('shared', BOB));
    assert.notEqual(await pidOf('persession', ALICE), await pidOf('persession', ALICE));
  });

  it('keeps two users on one shared process apart while they send colliding ids concurrently', async () => {
    const alice = await client('shared', ALICE);
    const bob = await client('shared', BOB);
    const calls = [];
    for (let id = 1; id <= 40; id++) {
      for (const [who, c] of [
        ['alice', alice],
        ['bob', bob],
      ] as const) {
        calls.push(
          c
            .callTool('slow_echo', { text: `${who}-${id}`, ms: (id * 7) % 23 }, id)
            .then((r) => ({ who, id, text: textOf(r.result), reply: r.reply })),
        );
      }
    }
    const results = await Promise.all(calls);
    for (const r of results) {
      assert.equal(r.text, `${r.who}-${r.id}`);
      assert.equal(r.reply.messages.length, 1, 'nothing else on the stream');
    }
  });

  it('routes progress by token to the session that asked, even with identical tokens', async () => {
    const alice = await client('shared', ALICE);
    const bob = await client('shared', BOB);
    const [a, b] = await Promise.all([
      alice.callTool('progress', { steps: 5, label: 'alice' }, 1, { progressToken: 'same' }),
      bob.callTool('progress', { steps: 5, label: 'bob' }, 1, { progressToken: 'same' }),
    ]);
    for (const [who, r] of [
      ['alice', a],
      ['bob', b],
    ] as const) {
      assert.equal(textOf(r.result), `done ${who}`);
      const progress = r.related.filter((m) => 'method' in m && m.method === 'notifications/progress') as unknown as Array<{
        params: { progressToken: string; message: string; progress: number };
      }>;
      assert.equal(progress.length, 5);
      for (const p of progress) {
        assert.equal(p.params.progressToken, 'same');
        assert.equal(p.params.message, who);
      }
    }
  });

  it('sends sampling and elicitation to the session whose call raised them', async () => {
    const alice = await client('peruser', ALICE, { sampling: {}, elicitation: {} });
    const bob = await client('peruser', BOB, { sampling: {}, elicitation: {} });
    const seenBy: Record<string, string[]> = { alice: [], bob: [] };
    const answer = (who: string) => (request: { method: string; params?: any }) => {
      seenBy[who]!.push(request.method);
      return request.method === 'sampling/createMessage'
        ? { role: 'assistant', model: 'test', content: { type: 'text', text: `${who} says hi` } }
        : { action: 'accept', content: { name: who } };
    };
    const [sa, sb, ea, eb] = await Promise.all([
      alice.requestInteractive('tools/call', { name: 'sample', arguments: { prompt: 'p' } }, answer('alice')),
      bob.requestInteractive('tools/call', { name: 'sample', arguments: { prompt: 'p' } }, answer('bob')),
      alice.requestInteractive('tools/call', { name: 'elicit', arguments: { question: 'name?' } }, answer('alice')),
      bob.requestInteractive('tools/call', { name: 'elicit', arguments: { question: 'name?' } }, answer('bob')),
    ]);
    assert.equal(textOf(sa.result), 'sampled: alice says hi');
    assert.equal(textOf(sb.result), 'sampled: bob says hi');
    assert.equal(textOf(ea.result), 'elicited: accept {"name":"alice"}');
    assert.equal(textOf(eb.result), 'elicited: accept {"name":"bob"}');
    assert.deepEqual(seenBy.alice!.sort(), ['elicitation/create', 'sampling/createMessage']);
    assert.deepEqual(seenBy.bob!.sort(), ['elicitation/create', 'sampling/createMessage']);
  });

  it('on a shared process, sends sampling to the one session with a call in flight', async () => {
    const idle = await client('shared', ALICE, { sampling: {} });
    const caller = await client('shared', BOB, { sampling: {} });
    const idleStream = await idle.openEventStream();
    const result = await caller.requestInteractive('tools/call', { name: 'sample', arguments: { prompt: 'p' } }, () => ({
      role: 'assistant',
      model: 't',
      content: { type: 'text', text: 'bob' },
    }));
    assert.equal(textOf(result.result), 'sampled: bob');
    idleStream.close();
    assert.equal(idleStream.messages.length, 0, 'the idle session saw nothing');
  });

  it('refuses sampling for a client that did not declare the capability', async () => {
    const c = await client('peruser', BOB);
    const result = await c.callTool('sample', { prompt: 'p' });
    // The server's request is answered "method not found" by the gateway; the tool reports that as its error.
    assert.equal(result.result?.isError, true, JSON.stringify(result));
    assert.match(textOf(result.result) ?? '', /the client does not support sampling\/createMessage/);
    assert.ok(
      !result.related.some((m) => 'method' in m && m.method === 'sampling/createMessage'),
      'the client never saw the sampling request',
    );
  });

  it("never delivers one session's log messages to another on a shared process", async () => {
    const alice = await client('shared', ALICE);
    const bob = await client('shared', BOB);
    const [a, b] = await Promise.all([alice.callTool('log', { label: 'alice' }), bob.callTool('log', { label: 'bob' })]);
    for (const [who, r] of [
      ['alice', a],
      ['bob', b],
    ] as const) {
      assert.equal(textOf(r.result), `logged ${who}`);
      for (const m of r.related) assert.equal((m as { params?: { data?: string } }).params?.data, who, 'no foreign log line');
    }
  });

  it('broadcasts list changes to every session on the process, and resource updates to subscribers only', async () => {
    const alice = await client('shared', ALICE);
    const bob = await client('shared', BOB);
    const [sa, sb] = [await alice.openEventStream(), await bob.openEventStream()];
    assert.equal(sa.status, 200);
    assert.equal((await alice.openEventStream()).status, 409, 'one GET stream per session');
    await alice.request('resources/subscribe', { uri: 'test://watched' });
    await bob.callTool('announce');
    await bob.callTool('touch', { uri: 'test://watched' });
    await waitFor(() => sa.messages.length >= 2 && sb.messages.length >= 1, { message: 'the notifications to arrive' });
    sa.close();
    sb.close();
    const methods = (messages: typeof sa.messages) => messages.map((m) => ('method' in m ? m.method : '?'));
    assert.deepEqual(methods(sa.messages), ['notifications/tools/list_changed', 'notifications/resources/updated']);
    assert.deepEqual(methods(sb.messages), ['notifications/tools/list_changed']);
  });

  it("passes a client's cancellation to the process", async () => {
    const c = await client('peruser', BOB);
    const before = await countOf(c, 'cancelled_count');
    const running = await countOf(c, 'running_count');
    const pending = c.callTool('hang', {}, 'to-cancel');
    await waitFor(async () => (await countOf(c, 'running_count')) > running, { message: 'the call to reach the process' });
    await c.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'to-cancel', reason: 'user' } });
    await waitFor(async () => (await countOf(c, 'cancelled_count')) === before + 1, { message: 'the process to see the cancellation' });
    void pending.catch(() => {});
  });

  it('times out a hung call, tells the process, and keeps serving', async () => {
    const c = await client('hangs');
    const started = Date.now();
    const hung = await c.callTool('hang');
    assert.ok(Date.now() - started < 3000);
    assert.equal(hung.error?.code, -32001);
    assert.match(hung.error?.message ?? '', /"hangs" did not answer tools\/call within 1s/);
    await waitFor(async () => (await countOf(c, 'cancelled_count')) === 1, { message: 'the process to be told' });
  });

  it('answers in-flight calls within a second when the process crashes, then restarts it for the same session', async () => {
    const c = await client('peruser', ALICE);
    const pidBefore = textOf((await c.callTool('whoami')).result);
    const inFlight = c.callTool('slow_echo', { text: 'x', ms: 5000 });
    const started = Date.now();
    const crashed = await c.callTool('crash');
    const other = await inFlight;
    assert.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms`);
    assert.match(crashed.error?.message ?? '', /stopped unexpectedly/);
    assert.match(other.error?.message ?? '', /stopped unexpectedly/);
    const after = await c.callTool('whoami');
    assert.ok(after.result, JSON.stringify(after));
    assert.notEqual(textOf(after.result), pidBefore, 'a new process, same session');
  });

  it('reports a server that cannot start by name, with its stderr in the log', async () => {
    for (const server of ['broken', 'missing']) {
      const c = new McpTestClient(`${gw.url}/mcp/${server}`, tokens[ALICE.email]![server]!);
      const reply = await c.post({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      });
      assert.equal(reply.status, 200);
      const message = (reply.messages[0] as { error?: { message: string } }).error?.message ?? '';
      assert.match(message, new RegExp(`MCP server "${server}" could not be started`));
      assert.equal(reply.headers.get('mcp-session-id'), null);
    }
    assert.ok(gw.logs.lines.some((l) => l.includes('the database is missing') && l.includes('"server":"broken"')));
    // The other servers are unaffected.
    assert.equal(textOf((await (await client('shared')).callTool('echo', { text: 'still fine' })).result), 'still fine');
  });

  describe('HTTP contract', () => {
    it("answers another user's session id with 404, and an unknown or missing one", async () => {
      const alice = await client('shared', ALICE);
      const bob = new McpTestClient(`${gw.url}/mcp/shared`, tokens[BOB.email]!.shared!);
      bob.sessionId = alice.sessionId;
      const hijack = await bob.callTool('echo', { text: 'x' });
      assert.equal(hijack.reply.status, 404);
      // Alice through another client (another registration) is refused as well.
      const otherClient = new McpTestClient(`${gw.url}/mcp/shared`, (await obtainTokens(gw.url, 'shared', ALICE)).access_token);
      otherClient.sessionId = alice.sessionId;
      assert.equal((await otherClient.callTool('echo', { text: 'x' })).reply.status, 404);
      bob.sessionId = 'not-a-session';
      assert.equal((await bob.callTool('echo', { text: 'x' })).reply.status, 404);
      bob.sessionId = undefined;
      assert.equal((await bob.callTool('echo', { text: 'x' })).reply.status, 400);
      // A session of one server is not valid on another.
      const other = new McpTestClient(`${gw.url}/mcp/peruser`, tokens[ALICE.email]!.peruser!);
      other.sessionId = alice.sessionId;
      assert.equal((await other.callTool('echo', { text: 'x' })).reply.status, 404);
    });

    it('turns malformed and oversized bodies into JSON-RPC errors, never a crash', async () => {
      const c = await client('shared');
      const malformed = await c.post('{"jsonrpc": "2.0", "id": 1, "method": ');
      assert.equal(malformed.status, 400);
      assert.equal((malformed.messages[0] as { error: { code: number } }).error.code, -32700);
      const notRpc = await c.post({ hello: 'world' });
      assert.equal(notRpc.status, 400);
      assert.equal((notRpc.messages[0] as { error: { code: number } }).error.code, -32600);
      const huge = await c.post({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x'.repeat(5 * 1024 * 1024) } },
      });
      assert.equal(huge.status, 413);
      assert.equal((await c.post('x', { 'content-type': 'text/plain' })).status, 415);
      assert.equal(textOf((await c.callTool('echo', { text: 'alive' })).result), 'alive');
    });

    it("refuses a foreign Origin and allows the gateway's own", async () => {
      const c = await client('shared');
      const foreign = await c.post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { origin: 'http://evil.example' });
      assert.equal(foreign.status, 403);
      const own = await c.post({ jsonrpc: '2.0', id: 2, method: 'ping' }, { origin: gw.url });
      assert.equal(own.status, 200);
      assert.equal(own.headers.get('access-control-allow-origin'), gw.url);
    });

    it('refuses a duplicate in-flight id and an unsupported protocol version header', async () => {
      const c = await client('shared');
      const running = await countOf(c, 'running_count');
      const first = c.callTool('slow_echo', { text: 'a', ms: 1000 }, 7);
      await waitFor(async () => (await countOf(c, 'running_count')) > running, { message: 'the first call to reach the process' });
      assert.equal((await c.callTool('echo', { text: 'b' }, 7)).reply.status, 400);
      assert.equal(textOf((await first).result), 'a');
      assert.equal((await c.post({ jsonrpc: '2.0', id: 8, method: 'ping' }, { 'mcp-protocol-version': '1999-01-01' })).status, 400);
    });

    it('accepts 2025-03-26 batches and answers them as one JSON array', async () => {
      const c = new McpTestClient(`${gw.url}/mcp/shared`, tokens[ALICE.email]!.shared!);
      c.protocolVersion = '2025-03-26';
      const init = await c.initialize();
      assert.equal(init.protocolVersion, '2025-03-26');
      const reply = await c.post([
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'b' } } },
      ]);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.messages.map((m) => (m as { id: number }).id).sort(), [1, 2]);
    });

    it('refuses initialize inside a batch, saying to send it alone', async () => {
      const c = new McpTestClient(`${gw.url}/mcp/shared`, tokens[ALICE.email]!.shared!);
      const reply = await c.post([
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } },
        },
      ]);
      assert.equal(reply.status, 400);
      assert.match(JSON.stringify(reply.messages), /send initialize alone, not in a batch/);
    });

    it('ends a session on DELETE', async () => {
      const c = await client('shared');
      assert.equal(await c.close(), 200);
      assert.equal((await c.callTool('echo', { text: 'x' })).reply.status, 404);
    });
  });

  it('opens and closes 1,000 sessions without leaking sessions, processes or memory', async () => {
    const bridge = gw.running.gateway.bridge;
    const processesBefore = bridge.processCount;
    const sessionsBefore = bridge.sessionCount;
    const token = tokens[BOB.email]!.peruser!;
    const cycle = async () => {
      const c = new McpTestClient(`${gw.url}/mcp/peruser`, token);
      await c.initialize();
      await c.callTool('echo', { text: 'x' });
      assert.equal(await c.close(), 200);
    };
    await Promise.all(Array.from({ length: 10 }, cycle));
    (globalThis as { gc?: () => void }).gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let batch = 0; batch < 100; batch++) await Promise.all(Array.from({ length: 10 }, cycle));
    (globalThis as { gc?: () => void }).gc?.();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    assert.equal(bridge.sessionCount, sessionsBefore, 'every session is gone');
    assert.ok(bridge.processCount <= processesBefore + 1, `processes: ${processesBefore} -> ${bridge.processCount}`);
    assert.ok(growth < 30 * 1024 * 1024, `heap grew ${Math.round(growth / 1024 / 1024)} MB`);
  });

  it('reaps processes left without sessions after their idle timeout', async () => {
    const bridge = gw.running.gateway.bridge;
    const c = await client('persession');
    await c.callTool('echo', { text: 'x' });
    await c.close();
    bridge.sweep(Date.now() + 60 * 60 * 1000);
    await waitFor(() => bridge.processCount === 0, { message: () => `the processes to be reaped (${bridge.processCount} left)` });
  });
});
