import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, BOB, spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { startRecordedUpstream, type RecordedUpstream } from './helpers/remote-upstream.js';
import { obtainTokens } from './helpers/tokens.js';

/**
 * Remote sessions are owned in memory by the replica that opened them; their gateway-issued ids
 * name that replica, so another replica forwards to it (no shared session store needed).
 */
describe('remote upstream sessions across replicas', () => {
  let redis: TestRedis;
  let upstream: RecordedUpstream;
  const replicas: GatewayProcess[] = [];

  before(async () => {
    redis = await startRedis();
    upstream = await startRecordedUpstream();
    const [portA, portB] = [await freePort(), await freePort()];
    // Replica A's own address is the public URL: tokens are issued there, and valid at both.
    const base = await testConfigJson({
      publicUrl: `http://127.0.0.1:${portA}`,
      storage: redis.url,
      mcpServers: { everything: { url: upstream.url } },
    });
    for (const port of [portA!, portB!]) {
      replicas.push(
        await spawnGateway(
          { ...base, listen: { host: '127.0.0.1', port }, cluster: { advertiseUrl: `http://127.0.0.1:${port}` } },
          undefined,
          `http://127.0.0.1:${port}`,
        ),
      );
    }
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await upstream.close();
    await redis.stop();
  });

  it('a session opened at A goes on through B for its owner, and is 404 through B for anyone else', async () => {
    const [a, b] = replicas.map((r) => `${r.url}/mcp/everything`) as [string, string];
    const alice = new McpTestClient(a, (await obtainTokens(replicas[0]!.url, 'everything', ALICE)).access_token);
    await alice.initialize();
    const throughB = new McpTestClient(b, alice.token);
    throughB.sessionId = alice.sessionId;
    const listed = await throughB.request('tools/list');
    assert.ok(listed.result?.tools, `HTTP ${listed.reply.status} ${JSON.stringify(listed.reply.messages)}`);
    const upstreamSessions = new Set(upstream.exchanges.map((e) => e.requestHeaders['mcp-session-id']).filter(Boolean));
    assert.equal(upstreamSessions.size, 1, 'one upstream session served the calls through A and through B');

    const bob = new McpTestClient(b, (await obtainTokens(replicas[0]!.url, 'everything', BOB)).access_token);
    bob.sessionId = alice.sessionId;
    const refused = await bob.request('tools/list');
    assert.equal(refused.reply.status, 404);
    assert.equal((refused.reply.messages[0] as { error?: { code: number } }).error?.code, -32001);
    assert.ok((await alice.request('tools/list')).result, 'Alice goes on');
  });
});
