import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { packageRoot } from '../src/paths.js';
import { untilRunningMoreThan } from './helpers/bridge-fixture.js';
import { BOB, spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { SteeringBalancer } from './helpers/steering-balancer.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const servers = {
  shared: { ...fixture, isolation: 'shared' },
  mine: { ...fixture, isolation: 'per-user' },
  single: { ...fixture, isolation: 'per-session' },
};

/** The text of a tools/call result, or the whole reply when the call failed. */
async function echo(mcp: McpTestClient, text: string): Promise<string> {
  const { result, reply } = await mcp.callTool('echo', { text });
  return result?.content?.[0]?.text ?? `HTTP ${reply.status} ${JSON.stringify(reply.messages)}`;
}

/** The SDK's own client (v1, 2025-11-25 with sessions), signed in with a real token. */
async function sdkClient(endpoint: string, token: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'durable-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

function restartSuite(name: string, storage: () => string) {
  describe(`2025 sessions across kill -9 and a restart, ${name} storage`, () => {
    let config: Record<string, unknown>;
    let gateway: GatewayProcess | undefined;
    before(async () => {
      const spec = storage();
      config = await testConfigJson(spec ? { storage: spec, mcpServers: servers } : { mcpServers: servers });
    });
    after(async () => {
      await gateway?.kill();
    });

    it('shared and per-user sessions go on under the same id; per-session ones end with 404; no one else gets them', async () => {
      gateway = await spawnGateway(config);
      const url = gateway.url;
      const token = async (server: string, person?: typeof BOB) => (await obtainTokens(url, server, person)).access_token;
      const sdk = await sdkClient(`${url}/mcp/shared`, await token('shared'));
      const sharedId = sdk.transport.sessionId!;
      assert.ok(sharedId);
      const first = (await sdk.client.callTool({ name: 'echo', arguments: { text: 'before' } })) as { content: Array<{ text: string }> };
      assert.equal(first.content[0]!.text, 'before');
      const mine = new McpTestClient(`${url}/mcp/mine`, await token('mine'));
      await mine.initialize();
      assert.equal(await echo(mine, 'before'), 'before');
      // The gateway routes resources/updated to the sessions that subscribed (whatever the server answers).
      await mine.request('resources/subscribe', { uri: 'test://watched' });
      const single = new McpTestClient(`${url}/mcp/single`, await token('single'));
      await single.initialize();
      assert.equal(await echo(single, 'before'), 'before');
      const bobToken = await token('shared', BOB);

      // A call in flight at the crash gets an error: its connection dies with the gateway.
      const inFlight = mine.callTool('slow_echo', { text: 'never', ms: 15_000 }).then(
        (r) => r.reply.status,
        () => 'connection lost',
      );
      await untilRunningMoreThan(mine, 0);
      await gateway.kill('SIGKILL');
      assert.equal(await inFlight, 'connection lost');
      gateway = await spawnGateway(config);

      // Bob with Alice's session id is told it does not exist, and that does not end her session.
      const bob = new McpTestClient(`${url}/mcp/shared`, bobToken);
      bob.sessionId = sharedId;
      const refused = await bob.request('tools/list');
      assert.equal(refused.reply.status, 404);
      assert.equal((refused.reply.messages[0] as { error?: { code: number } }).error?.code, -32001);

      const after = (await sdk.client.callTool({ name: 'echo', arguments: { text: 'after' } })) as { content: Array<{ text: string }> };
      assert.equal(after.content[0]!.text, 'after', 'the SDK client goes on on its session');
      assert.equal(sdk.transport.sessionId, sharedId, 'under the same session id');
      assert.equal(await echo(mine, 'after'), 'after', 'the per-user session goes on too');
      // Its subscription came back with it: an update of that resource reaches its GET stream.
      const events = await mine.openEventStream();
      await mine.callTool('touch', { uri: 'test://other' });
      await mine.callTool('touch', { uri: 'test://watched' });
      const updated = await waitFor(() => events.messages.find((m) => 'method' in m && m.method === 'notifications/resources/updated'));
      assert.deepEqual((updated as { params?: unknown }).params, { uri: 'test://watched' });
      events.close();
      const gone = await single.callTool('echo', { text: 'after' });
      assert.equal(gone.reply.status, 404, 'a per-session process died with its session');
      assert.equal((await single.callTool('echo', { text: 'again' })).reply.status, 404);
      await sdk.client.close();

      // DELETE ends the session for good: its record goes with it.
      assert.equal(await mine.close(), 200);
      await gateway.kill('SIGKILL');
      gateway = await spawnGateway(config);
      assert.equal((await mine.callTool('echo', { text: 'closed' })).reply.status, 404);
    });
  });
}

restartSuite('embedded LMDB', () => '');

let redis: TestRedis | undefined;
before(async () => {
  redis = await startRedis({ persistent: true });
});
after(async () => {
  await redis?.stop();
});
restartSuite('Redis', () => redis!.url);

describe('2025 sessions when the replica holding them dies', () => {
  let cluster: TestRedis;
  let balancer: SteeringBalancer;
  const replicas: GatewayProcess[] = [];
  let publicUrl = '';

  before(async () => {
    cluster = await startRedis();
    const ports = [await freePort(), await freePort(), await freePort()];
    const lbPort = await freePort();
    publicUrl = `http://127.0.0.1:${lbPort}`;
    balancer = new SteeringBalancer(ports);
    await balancer.listen(lbPort);
    const base = await testConfigJson({ publicUrl, storage: cluster.url, mcpServers: servers });
    for (const port of ports) {
      const config = { ...base, listen: { host: '127.0.0.1', port }, cluster: { advertiseUrl: `http://127.0.0.1:${port}` } };
      replicas.push(await spawnGateway(config, undefined, `http://127.0.0.1:${port}`));
    }
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await balancer?.close();
    await cluster?.stop();
  });

  it('A dies: the next calls through B and through C, at once, all succeed on one process that took the session over', async () => {
    balancer.target = 0;
    const { access_token } = await obtainTokens(publicUrl, 'mine');
    const alice = new McpTestClient(`${publicUrl}/mcp/mine`, access_token);
    await alice.initialize();
    const pidAtA = (await alice.callTool('whoami')).result.content[0].text;
    // What the store holds of the session: who, where and what was negotiated, never a token.
    const redis = new Redis(cluster.url);
    const key = `mcpgw:mcp-session:${alice.sessionId}`;
    const [stored, ttl] = [await redis.get(key), await redis.ttl(key)];
    await redis.quit();
    assert.ok(stored && !stored.includes(access_token) && !/token|secret/i.test(stored), stored ?? 'no record');
    const record = JSON.parse(stored);
    assert.deepEqual(
      [record.server, record.protocolVersion, record.holder, record.clientInfo],
      ['mine', '2025-11-25', alice.sessionId!.split('.')[0], { name: 'test', version: '1' }],
    );
    assert.ok(ttl > 30 * 60 && ttl <= 35 * 60, `expires by itself (TTL ${ttl} s)`);
    await replicas[0]!.kill('SIGKILL');

    // Requests through B and through C at the same moment: one replica claims the session, the
    // other sends its request there. Both answer; one process serves the session from now on.
    const throughC = new McpTestClient(`http://127.0.0.1:${balancer.ports[2]}/mcp/mine`, access_token);
    throughC.sessionId = alice.sessionId;
    balancer.target = 1;
    const [viaB, viaC] = await Promise.all([alice.callTool('whoami'), throughC.callTool('whoami')]);
    assert.equal(viaB.reply.status, 200, JSON.stringify(viaB.reply.messages));
    assert.equal(viaC.reply.status, 200, JSON.stringify(viaC.reply.messages));
    const pid = viaB.result.content[0].text;
    assert.notEqual(pid, pidAtA, "A's process died with it");
    assert.equal(viaC.result.content[0].text, pid, 'B and C reached the same session');
    for (const target of [1, 2]) {
      balancer.target = target;
      assert.equal(await echo(alice, `via ${target}`), `via ${target}`);
      assert.equal((await alice.callTool('whoami')).result.content[0].text, pid);
    }
  });
});
