import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { detectAdvertiseUrl } from '../src/mcp/cluster/advertise-address.js';
import { ReplicaDirectory } from '../src/mcp/cluster/replica-directory.js';
import { createLogger } from '../src/log/logger.js';
import { packageRoot } from '../src/paths.js';
import { RedisStore } from '../src/storage/redis-store.js';
import { LogCapture, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { sleep, waitFor } from './helpers/wait.js';

const CLI = resolve(packageRoot, 'dist/src/cli/main.js');
const address = (address: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4') =>
  ({ address, internal, family, netmask: '', mac: '', cidr: null }) as never;

describe('the address a replica advertises', () => {
  it('is loopback when it listens on loopback', () => {
    assert.equal(detectAdvertiseUrl('127.0.0.1', 8080), 'http://127.0.0.1:8080');
    assert.equal(detectAdvertiseUrl('localhost', 8080), 'http://127.0.0.1:8080');
    assert.equal(detectAdvertiseUrl('::1', 8080), 'http://[::1]:8080');
  });
  it('is the one address it listens on', () => {
    assert.equal(detectAdvertiseUrl('10.0.0.7', 9000), 'http://10.0.0.7:9000');
    assert.equal(detectAdvertiseUrl('fd00::7', 9000), 'http://[fd00::7]:9000');
  });
  it('is its first non-internal IPv4 address when it listens on all of them, else loopback', () => {
    const interfaces = {
      lo: [address('127.0.0.1', true), address('::1', true, 'IPv6')],
      eth0: [address('fe80::1', false, 'IPv6'), address('10.1.2.3')],
      eth1: [address('192.168.9.9')],
    };
    assert.equal(detectAdvertiseUrl('0.0.0.0', 8080, interfaces), 'http://10.1.2.3:8080');
    assert.equal(detectAdvertiseUrl('::', 8080, interfaces), 'http://10.1.2.3:8080');
    assert.equal(detectAdvertiseUrl('0.0.0.0', 8080, { lo: [address('127.0.0.1', true)] }), 'http://127.0.0.1:8080');
  });
});

describe('replicas advertising the same address', () => {
  let redis: TestRedis;
  const stores: RedisStore[] = [];
  const directories: ReplicaDirectory[] = [];
  const open = (prefix: string, logs = new LogCapture()) => {
    const store = new RedisStore(redis.url, prefix);
    stores.push(store);
    const directory = new ReplicaDirectory(store, createLogger({ destination: logs }), 100);
    directories.push(directory);
    return directory;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(directories.map((directory) => directory.stop()));
    await Promise.all(stores.map((store) => store.close()));
    await redis?.stop();
  });

  it('are found by both, and logged', async () => {
    const [logsA, logsB] = [new LogCapture(), new LogCapture()];
    const [a, b] = [open('dup:', logsA), open('dup:', logsB)];
    await a.start('http://10.0.0.5:8080');
    await b.start('http://10.0.0.5:8080');
    await waitFor(() => a.duplicate && b.duplicate, { message: 'both replicas to report the duplicate' });
    assert.deepEqual(b.duplicate, { url: 'http://10.0.0.5:8080', replicas: [a.id, b.id] });
    for (const logs of [logsA, logsB]) {
      assert.ok(
        logs.lines.some((line) => line.includes('"event":"cluster.duplicate_address"') && line.includes('http://10.0.0.5:8080')),
        logs.lines.join('\n'),
      );
    }
  });

  it('are not confused with distinct addresses, or with the leftover entry of a replica killed a moment ago', async () => {
    const [a, b] = [open('distinct:'), open('distinct:')];
    await a.start('http://10.0.0.5:8080');
    await b.start('http://10.0.0.6:8080');
    const store = new RedisStore(redis.url, 'ghost:');
    stores.push(store);
    // What a replica killed with -9 leaves behind: its entry and claim, no longer renewed.
    await store.set('replica:ghost', { url: 'http://10.0.0.7:8080', announcedAt: Date.now() }, 15);
    await store.set('replica-address:http://10.0.0.7:8080', 'ghost', 15);
    const restarted = open('ghost:');
    await restarted.start('http://10.0.0.7:8080');
    // Nothing is reported: eight of the directories' 100 ms checks pass without a duplicate.
    await sleep(800);
    assert.equal(a.duplicate, undefined);
    assert.equal(b.duplicate, undefined);
    assert.equal(restarted.duplicate, undefined);
  });
});

describe('a gateway on Redis without a cluster block', () => {
  let redis: TestRedis;
  let gw: TestGateway;
  let twin: ReplicaDirectory | undefined;
  let twinStore: RedisStore | undefined;
  let port = 0;
  before(async () => {
    redis = await startRedis();
    port = (await freePort())!;
    gw = await startTestGateway({ publicUrl: `http://127.0.0.1:${port}`, listen: { host: '127.0.0.1', port }, storage: redis.url });
  });
  after(async () => {
    await twin?.stop();
    await twinStore?.close();
    await gw?.close();
    await redis?.stop();
  });

  it('announces the address it detected, and says in /readyz that the replicas are fine', async () => {
    const joined = gw.logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.event === 'cluster.joined');
    assert.equal(joined?.advertiseUrl, `http://127.0.0.1:${port}`);
    assert.equal(joined?.detected, true);
    assert.deepEqual(await (await fetch(`${gw.url}/readyz`)).json(), { status: 'ready', storage: 'ok', replicas: 'ok' });
  });

  it('reports a second replica at its address in /readyz, without naming it, and doctor fails the check with the fix', async () => {
    twinStore = new RedisStore(redis.url);
    twin = new ReplicaDirectory(twinStore, createLogger({ destination: new LogCapture() }), 200);
    await twin.start(`http://127.0.0.1:${port}`);
    const readiness = await waitFor(
      async () => {
        const body = (await (await fetch(`${gw.url}/readyz`)).json()) as Record<string, string>;
        return body.replicas === 'duplicate-address' && body;
      },
      { timeout: 15_000, interval: 100, message: 'the gateway to report the duplicate' },
    );
    assert.match(readiness.warning!, /two replicas advertise the same address/);
    assert.ok(!JSON.stringify(readiness).includes('127.0.0.1'), 'the public readiness answer names no internal address');
    const stdout = await new Promise<string>((resolvePromise) => {
      execFile(process.execPath, [CLI, 'doctor', gw.url, '--server', 'demo'], { timeout: 60_000 }, (_error, out) => resolvePromise(out));
    });
    assert.match(stdout, /^replica addresses\s+✗\s+two replicas advertise the same address/m, stdout);
    assert.match(stdout, /fix: give each replica its own "cluster": \{ "advertiseUrl"/, stdout);
  });
});
