import { after, before } from 'node:test';
import { startTestGateway, type TestGateway } from './gateway.js';
import { freePort } from './ports.js';
import { startRedis, type TestRedis } from './redis-server.js';

/**
 * What a test of answers given once runs against: one gateway on LMDB, or two sharing a private
 * Redis that both answer for A's address (its publicUrl, where a browser signs in), B reached on
 * its own port. Started before the suite's tests and stopped after them.
 */
export function gatewaysOn(storage: 'lmdb' | 'redis', overrides: Record<string, unknown> = {}) {
  const set = {
    gateways: [] as TestGateway[],
    addresses: [] as string[],
    redis: undefined as TestRedis | undefined,
    /** Each request of a batch goes to the next gateway: on Redis, A then B then A. */
    at: (index: number) => set.addresses[index % set.addresses.length]!,
  };
  before(async () => {
    if (storage === 'lmdb') {
      set.gateways.push(await startTestGateway(overrides));
      set.addresses.push(set.gateways[0]!.url);
      return;
    }
    set.redis = await startRedis();
    const ports = [await freePort(), await freePort()];
    const publicUrl = `http://127.0.0.1:${ports[0]}`;
    for (const port of ports) {
      set.gateways.push(await startTestGateway({ ...overrides, storage: set.redis.url, publicUrl, listen: { host: '127.0.0.1', port } }));
      set.addresses.push(`http://127.0.0.1:${port}`);
    }
  });
  after(async () => {
    await Promise.all(set.gateways.map((gateway) => gateway.close()));
    await set.redis?.stop();
  });
  return set;
}
