// Cancellation against a restarting process and the HTTP responses of cancelled requests: the two
// defects a soak (a stdio child killed every 15 s) found in the bridge's bookkeeping.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient, type McpReply } from './helpers/mcp-client.js';
import { obtainTokens } from './helpers/tokens.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const textOf = (result: { content?: Array<{ text?: string }> } | undefined) => result?.content?.[0]?.text;
const TIMED_OUT = Symbol('timed out');
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, sleep(ms).then(() => TIMED_OUT)]);

describe('cancellation', () => {
  let gw: TestGateway;
  let token: string;

  before(async () => {
    gw = await startTestGateway({ mcpServers: { restarts: { ...fixture, isolation: 'per-user' } } });
    token = (await obtainTokens(gw.url, 'restarts', ALICE)).access_token;
  });
  after(async () => {
    await gw.close();
  });

  const client = async () => {
    const c = new McpTestClient(`${gw.url}/mcp/restarts`, token);
    await c.initialize();
    return c;
  };
  const cancel = (c: McpTestClient, requestId: string | number) =>
    c.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'user' } });

  it('drops a call cancelled while it waits for its process to restart: the process never runs it', async () => {
    const c = await client();
    const pid = Number(textOf((await c.callTool('whoami')).result));
    process.kill(pid, 'SIGKILL');
    await sleep(30);
    const call = c.callTool('progress', { steps: 3, label: 'cancelled' }, 'late', { progressToken: 'p' });
    await sleep(70);
    assert.equal((await cancel(c, 'late')).status, 202);
    const reply = await within(call, 3000);
    assert.notEqual(reply, TIMED_OUT, "the cancelled request's response ends");
    const { result, related } = reply as { result?: unknown; related: unknown[] };
    assert.equal(result, undefined, `no result reaches a client that cancelled: ${JSON.stringify(result)}`);
    assert.deepEqual(related, [], 'nor any progress');
    // The restarted process serves the session, and never saw the cancelled call.
    const after = await c.callTool('echo', { text: 'after' });
    assert.equal(textOf(after.result), 'after');
    assert.notEqual(Number(textOf((await c.callTool('whoami')).result)), pid);
  });

  it('ends the HTTP response of every cancelled request, so its socket is free again', async () => {
    const c = await client();
    const connections = () =>
      new Promise<number>((done, fail) => gw.running.server.getConnections((error, n) => (error ? fail(error) : done(n))));
    const before = await connections();
    for (let i = 0; i < 20; i++) {
      const hung = c.callTool('hang', {}, `hang-${i}`);
      await sleep(20);
      await cancel(c, `hang-${i}`);
      const reply = await within(hung, 2000);
      assert.notEqual(reply, TIMED_OUT, `cancelled request ${i} still has its response open`);
      assert.equal((reply as { reply: McpReply }).reply.status, 200);
    }
    const afterCancels = await connections();
    assert.ok(afterCancels <= before + 2, `sockets: ${before} -> ${afterCancels}`);
    assert.equal(textOf((await c.callTool('echo', { text: 'still here' })).result), 'still here');
  });
});
