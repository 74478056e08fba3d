import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { obtainTokens } from './helpers/tokens.js';
import { sleep, unlessThrows, waitFor } from './helpers/wait.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const textOf = (result: { content?: Array<{ text?: string }> } | undefined) => result?.content?.[0]?.text;
const LIMIT_REACHED = -31030;

type Tokens = Record<string, Record<string, string>>;

async function tokensFor(gw: TestGateway, servers: string[]): Promise<Tokens> {
  const tokens: Tokens = {};
  for (const user of [ALICE, BOB]) {
    tokens[user.email] = {};
    for (const server of servers) tokens[user.email]![server] = (await obtainTokens(gw.url, server, user)).access_token;
  }
  return tokens;
}

/** A session of `c`, once the gateway accepts one (it refuses while the limit is reached). */
const initializedOnceRoom = (c: () => McpTestClient) =>
  waitFor(
    () =>
      unlessThrows(async () => {
        const session = c();
        await session.initialize();
        return session;
      }),
    { message: 'a new session to be accepted' },
  );

/** The JSON-RPC error an initialize got instead of a session. */
async function refusedInitialize(c: McpTestClient): Promise<{ code: number; message: string }> {
  const reply = await c.post({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  assert.equal(reply.headers.get('mcp-session-id'), null, 'no session was opened');
  const error = (reply.messages[0] as { error?: { code: number; message: string } }).error;
  assert.ok(error, `expected a JSON-RPC error, got HTTP ${reply.status} ${JSON.stringify(reply.messages)}`);
  return error;
}

const processesOf = (gw: TestGateway, server: string) => gw.running.gateway.bridge.stats().find((s) => s.server === server)!.processes;

describe('caps on sessions and processes', () => {
  let gw: TestGateway;
  let tokens: Tokens;

  before(async () => {
    gw = await startTestGateway({
      mcpServers: {
        persession: { ...fixture, isolation: 'per-session' },
        capped: { ...fixture, isolation: 'per-session', limits: { sessionsPerPerson: 2 } },
        peruser: { ...fixture, isolation: 'per-user', limits: { processes: 1 } },
        shared: { ...fixture, isolation: 'shared', callTimeout: '30s', limits: { sessionsPerPerson: 20 } },
      },
    });
    tokens = await tokensFor(gw, ['persession', 'capped', 'peruser', 'shared']);
  });
  after(async () => {
    await gw.close();
  });

  const client = (server: string, user = ALICE) => new McpTestClient(`${gw.url}/mcp/${server}`, tokens[user.email]![server]!);

  it("by default, one person's initialize calls on a per-session server run at most 10 processes: the oldest idle goes", async () => {
    const clients: McpTestClient[] = [];
    for (let i = 0; i < 12; i++) {
      const c = client('persession');
      await c.initialize();
      assert.equal(textOf((await c.callTool('echo', { text: `s${i}` })).result), `s${i}`);
      clients.push(c);
    }
    await waitFor(() => processesOf(gw, 'persession') <= 10, {
      message: () => `at most 10 processes, not ${processesOf(gw, 'persession')}`,
    });
    assert.equal((await clients[0]!.callTool('echo', { text: 'x' })).reply.status, 404, 'the oldest idle session was closed');
    assert.equal((await clients[1]!.callTool('echo', { text: 'x' })).reply.status, 404);
    assert.equal(textOf((await clients[2]!.callTool('echo', { text: 'kept' })).result), 'kept');
    for (const c of clients.slice(2)) await c.close();
  });

  it('refuses a new session with a clear JSON-RPC error when every session of that person is busy', async () => {
    const [a, b] = [client('capped'), client('capped')];
    await a.initialize();
    await b.initialize();
    const streams = [await a.openEventStream(), await b.openEventStream()];
    const error = await refusedInitialize(client('capped'));
    assert.equal(error.code, LIMIT_REACHED);
    assert.match(error.message, /2 sessions/);
    assert.match(error.message, /sessionsPerPerson/);
    const bob = client('capped', BOB);
    await bob.initialize();
    assert.ok((await bob.callTool('echo', { text: 'bob' })).result, 'another person is not affected');
    streams[0]!.close();
    const c = await initializedOnceRoom(() => client('capped'));
    assert.equal((await a.callTool('echo', { text: 'x' })).reply.status, 404, 'the now idle session made room');
    assert.ok((await c.callTool('echo', { text: 'x' })).result);
    streams[1]!.close();
    for (const s of [b, c, bob]) await s.close();
  });

  it('caps the processes of a per-user server (distinct people); a process without sessions makes room', async () => {
    const alice = client('peruser');
    await alice.initialize();
    const stream = await alice.openEventStream();
    const error = await refusedInitialize(client('peruser', BOB));
    assert.equal(error.code, LIMIT_REACHED);
    assert.match(error.message, /processes/);
    stream.close();
    assert.equal(await alice.close(), 200);
    const bob = await initializedOnceRoom(() => client('peruser', BOB));
    assert.ok((await bob.callTool('echo', { text: 'bob' })).result, "Alice's process, left without sessions, made room");
    assert.equal(processesOf(gw, 'peruser'), 1);
    await bob.close();
  });

  it("shares a process's in-flight slots fairly: one person's flood of batches never blocks another person's call", async () => {
    const floods: Array<Promise<unknown>> = [];
    const flooders: McpTestClient[] = [];
    for (let s = 0; s < 16; s++) {
      const c = client('shared');
      await c.initialize();
      flooders.push(c);
      const batch = Array.from({ length: 256 }, (_, i) => ({
        jsonrpc: '2.0',
        id: i,
        method: 'tools/call',
        params: { name: 'hang', arguments: {} },
      }));
      floods.push(c.post(batch).catch(() => undefined));
    }
    // Lets the floods reach the process; were they slower, the test would only show less, never fail.
    await sleep(1000);
    const bob = client('shared', BOB);
    await bob.initialize();
    const call = await bob.callTool('echo', { text: 'not starved' });
    assert.equal(textOf(call.result), 'not starved', JSON.stringify(call.error));
    for (const c of flooders) await c.close();
    await Promise.all(floods);
  });
});

describe('rate limits on initialize and on batches', () => {
  let gw: TestGateway;
  let tokens: Tokens;

  before(async () => {
    gw = await startTestGateway({
      mcpServers: { shared: { ...fixture, isolation: 'shared' } },
      rateLimits: { mcp: { limit: 40, window: '2s' }, initialize: { limit: 3, window: '2s' } },
    });
    tokens = await tokensFor(gw, ['shared']);
  });
  after(async () => {
    await gw.close();
  });

  it('counts every request of a batch', async () => {
    const c = new McpTestClient(`${gw.url}/mcp/shared`, tokens[ALICE.email]!.shared!);
    await c.initialize();
    const batch = Array.from({ length: 50 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }));
    const refused = await c.post(batch);
    assert.equal(refused.status, 429);
    assert.equal((refused.messages[0] as { error: { code: number } }).error.code, -31029);
    // The 2 s window must pass on the clock before the next test starts afresh.
    await sleep(2100);
  });

  it('limits initialize on its own', async () => {
    const open = () => new McpTestClient(`${gw.url}/mcp/shared`, tokens[ALICE.email]!.shared!);
    const first = open();
    await first.initialize();
    for (let i = 0; i < 2; i++) await open().initialize();
    const reply = await open().post({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    assert.equal(reply.status, 429);
    const error = (reply.messages[0] as { error: { code: number; message: string } }).error;
    assert.equal(error.code, -31029);
    assert.match(error.message, /at most 3 new sessions per 2s per person/);
    assert.ok((await first.request('tools/list')).result, 'calls on open sessions go on');
    const bob = new McpTestClient(`${gw.url}/mcp/shared`, tokens[BOB.email]!.shared!);
    await bob.initialize();
  });
});

describe('the total process cap', () => {
  let gw: TestGateway;
  let tokens: Tokens;

  before(async () => {
    gw = await startTestGateway({
      limits: { processes: 2 },
      mcpServers: { one: { ...fixture, isolation: 'per-user' }, two: { ...fixture, isolation: 'per-user' } },
    });
    tokens = await tokensFor(gw, ['one', 'two']);
  });
  after(async () => {
    await gw.close();
  });

  it('refuses a process past limits.processes, and lets a process without sessions make room', async () => {
    const client = (server: string, user = ALICE) => new McpTestClient(`${gw.url}/mcp/${server}`, tokens[user.email]![server]!);
    const [alice, bob] = [client('one'), client('two', BOB)];
    await alice.initialize();
    await bob.initialize();
    const streams = [await alice.openEventStream(), await bob.openEventStream()];
    const error = await refusedInitialize(client('two'));
    assert.equal(error.code, LIMIT_REACHED);
    assert.match(error.message, /limits\.processes/);
    streams[1]!.close();
    await bob.close();
    const again = await initializedOnceRoom(() => client('two'));
    assert.ok((await again.callTool('echo', { text: 'x' })).result);
    assert.equal(gw.running.gateway.bridge.processCount, 2);
    streams[0]!.close();
  });
});
