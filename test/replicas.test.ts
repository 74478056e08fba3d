import assert from 'node:assert/strict';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { ModernTestClient } from './helpers/modern-client.js';
import { authorizeUrl, exchangeCode, pkcePair, refresh, registerClient } from './helpers/oauth-client.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { SteeringBalancer } from './helpers/steering-balancer.js';
import { untilRunningMoreThan } from './helpers/bridge-fixture.js';
import { waitFor } from './helpers/wait.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const REDIRECT = 'https://claude.ai/api/mcp/auth_callback';

/**
 * Redis, two replicas (A and B) as processes and the balancer in front of them, started before the
 * suite's tests and stopped after them. With `cluster`, each replica is told its advertiseUrl.
 */
function replicasOnRedis(options: { persistent: boolean; cluster: boolean }) {
  const set = {
    redis: undefined as unknown as TestRedis,
    balancer: undefined as unknown as SteeringBalancer,
    replicas: [] as GatewayProcess[],
    configs: [] as Array<Record<string, unknown>>,
    publicUrl: '',
    resource: '',
    async startReplica(index: number): Promise<GatewayProcess> {
      set.replicas[index] = await spawnGateway(set.configs[index]!, undefined, `http://127.0.0.1:${set.balancer.ports[index]}`);
      return set.replicas[index];
    },
  };
  before(async () => {
    set.redis = await startRedis({ persistent: options.persistent });
    const [lbPort, portA, portB] = [await freePort(), await freePort(), await freePort()];
    set.publicUrl = `http://127.0.0.1:${lbPort}`;
    set.resource = `${set.publicUrl}/mcp/tools`;
    set.balancer = new SteeringBalancer([portA!, portB!]);
    await set.balancer.listen(lbPort!);
    const base = await testConfigJson({ publicUrl: set.publicUrl, storage: set.redis.url, mcpServers: { tools: fixture } });
    set.configs = [portA!, portB!].map((port) => ({
      ...base,
      listen: { host: '127.0.0.1', port },
      ...(options.cluster ? { cluster: { advertiseUrl: `http://127.0.0.1:${port}` } } : {}),
    }));
    await Promise.all([set.startReplica(0), set.startReplica(1)]);
  });
  after(async () => {
    await Promise.all(set.replicas.map((r) => r?.kill()));
    await set.balancer?.close();
    await set.redis?.stop();
  });
  return set;
}

/** Registers a public client and signs Alice in through `publicUrl`: the client and the token response. */
async function signIn(publicUrl: string, resource: string, steps: { beforeLogin?(): void; beforeToken?(): void } = {}) {
  const client = await registerClient(publicUrl, {
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'none',
    client_name: 'Replicated',
  });
  steps.beforeLogin?.();
  const { verifier, challenge } = pkcePair();
  const landed = await authorizeWithPassword(
    new HttpBrowser(publicUrl),
    authorizeUrl(publicUrl, { client, challenge, method: 'S256', resource }),
    ALICE,
  );
  steps.beforeToken?.();
  const tokens = await exchangeCode(publicUrl, client, landed.searchParams.get('code')!, verifier, { resource });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return { client, tokens: tokens.body as { access_token: string; refresh_token: string } };
}

describe('replicas sharing one Redis', () => {
  const set = replicasOnRedis({ persistent: true, cluster: true });
  const { replicas, startReplica } = set;

  const via = (index: number) => {
    set.balancer.target = index;
  };

  /** Registers at replica `registerAt`, signs in at `loginAt`, exchanges the code at `tokenAt`. */
  function connect(registerAt: number, loginAt: number, tokenAt: number) {
    via(registerAt);
    return signIn(set.publicUrl, set.resource, { beforeLogin: () => via(loginAt), beforeToken: () => via(tokenAt) });
  }

  async function callEcho(mcp: McpTestClient, text: string): Promise<string> {
    const { result, error, reply } = await mcp.request('tools/call', { name: 'echo', arguments: { text } });
    assert.equal(error, undefined, `HTTP ${reply.status}: ${JSON.stringify(reply.messages)}`);
    return result.content[0].text;
  }

  it('a client registered at A signs in at B; the token issued by B works at A', async () => {
    const { tokens } = await connect(0, 1, 1);
    via(0);
    const mcp = new McpTestClient(set.resource, tokens.access_token);
    await mcp.initialize();
    assert.equal(await callEcho(mcp, 'at A'), 'at A');
  });

  it('a session opened through A continues through B, streams included', async () => {
    const { tokens } = await connect(0, 0, 0);
    via(0);
    const mcp = new McpTestClient(set.resource, tokens.access_token);
    await mcp.initialize();
    const pidAtA = (await mcp.request('tools/call', { name: 'whoami' })).result.content[0].text;
    via(1);
    assert.equal(await callEcho(mcp, 'through B'), 'through B');
    const pidThroughB = (await mcp.request('tools/call', { name: 'whoami' })).result.content[0].text;
    assert.equal(pidThroughB, pidAtA, 'the same stdio process on A answered');
    // A body sent in chunks (no Content-Length) is read by B, then forwarded whole.
    const chunked = await new Promise<{ status: number; body: string }>((done, fail) => {
      const post = request(set.resource, { method: 'POST', headers: mcp.headers() }, (answer) => {
        let body = '';
        answer.on('data', (chunk: Buffer) => (body += chunk));
        answer.on('end', () => done({ status: answer.statusCode!, body }));
      });
      post.on('error', fail);
      post.write('{"jsonrpc":"2.0","id":"chunked","method":"tools/call",');
      post.end('"params":{"name":"echo","arguments":{"text":"in chunks"}}}');
    });
    assert.equal(chunked.status, 200, chunked.body);
    assert.match(chunked.body, /in chunks/);
    const streamed = await mcp.request('tools/call', {
      name: 'progress',
      arguments: { steps: 3, label: 'p' },
      _meta: { progressToken: 'tok' },
    });
    assert.equal(streamed.reply.contentType.split(';')[0], 'text/event-stream');
    assert.equal(streamed.related.filter((m) => 'method' in m && m.method === 'notifications/progress').length, 3);
  });

  it('a 2026-07-28 retry (MRTR) that lands on B resumes the call parked on A', async () => {
    const { tokens } = await connect(0, 0, 0);
    via(0);
    const modern = new ModernTestClient(set.resource, tokens.access_token, { elicitation: {} });
    const params = { name: 'elicit', arguments: { question: 'Which replica?' } };
    const first = await modern.request('tools/call', params);
    assert.equal(first.result?.resultType, 'input_required', JSON.stringify(first.messages));
    const key = Object.keys(first.result.inputRequests)[0]!;
    via(1);
    const retry = await modern.request('tools/call', {
      ...params,
      inputResponses: { [key]: { action: 'accept', content: { name: 'A' } } },
      requestState: first.result.requestState,
    });
    assert.equal(retry.status, 200, JSON.stringify(retry.messages));
    assert.equal(retry.result.content[0].text, 'elicited: accept {"name":"A"}');
  });

  it('kill -9 of the replica holding a session mid-call: that call fails, the session goes on through B, nothing is lost', async () => {
    const { client, tokens } = await connect(0, 0, 0);
    via(0);
    const mcp = new McpTestClient(set.resource, tokens.access_token);
    await mcp.initialize();
    via(1);
    const inFlight = mcp.callTool('slow_echo', { text: 'never', ms: 5000 }).then(
      (r) => r.reply.status,
      () => 'connection lost',
    );
    await untilRunningMoreThan(mcp, 0);
    await replicas[0]!.kill('SIGKILL');
    assert.notEqual(await inFlight, 200);
    // The session's record is in Redis: B takes the session over, under the same id.
    assert.equal(await callEcho(mcp, 'on B'), 'on B');
    // Registration, grant and refresh token were in Redis, not in A.
    const refreshed = await refresh(set.publicUrl, client, tokens.refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    await startReplica(0);
  });

  it('Redis stopped: 503 and /readyz false, no hanging; Redis back: recovery without a restart', async () => {
    const { client, tokens } = await connect(1, 1, 1);
    via(1);
    const mcp = new McpTestClient(set.resource, tokens.access_token);
    await mcp.initialize();
    await set.redis.kill();
    try {
      for (const port of set.balancer.ports) {
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        assert.equal(ready.status, 503);
      }
      const started = Date.now();
      const refused = await refresh(set.publicUrl, client, tokens.refresh_token);
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.error, 'temporarily_unavailable');
      assert.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
      // An open session does not need Redis: its calls go on.
      assert.equal(await callEcho(mcp, 'during the outage'), 'during the outage');
    } finally {
      set.redis = await startRedis({ port: set.redis.port, dir: set.redis.dir, persistent: true });
    }
    const ready = async () => (await fetch(`${set.publicUrl}/readyz`)).status === 200;
    await waitFor(ready, { timeout: 15_000, interval: 200, message: 'the gateway to reconnect to Redis by itself' });
    const refreshed = await refresh(set.publicUrl, client, tokens.refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });
});

describe('replicas sharing one Redis without a cluster block', () => {
  const set = replicasOnRedis({ persistent: false, cluster: false });

  it('each announces the address it detected, and a session opened through A continues through B', async () => {
    // The line may still be on its way from the replica's stdout when the test starts.
    for (const [index, port] of set.balancer.ports.entries()) {
      const joined = new RegExp(`"event":"cluster.joined".*"advertiseUrl":"http://127.0.0.1:${port}","detected":true`);
      await waitFor(() => joined.test(set.replicas[index]!.output()), { message: `replica ${index} to log cluster.joined` });
    }
    set.balancer.target = 0;
    const { tokens } = await signIn(set.publicUrl, set.resource);
    const mcp = new McpTestClient(set.resource, tokens.access_token);
    await mcp.initialize();
    const pidAtA = (await mcp.request('tools/call', { name: 'whoami' })).result.content[0].text;
    set.balancer.target = 1;
    const throughB = await mcp.request('tools/call', { name: 'whoami' });
    assert.equal(throughB.reply.status, 200, JSON.stringify(throughB.reply.messages));
    assert.equal(throughB.result.content[0].text, pidAtA, 'the same stdio process on A answered');
  });
});
