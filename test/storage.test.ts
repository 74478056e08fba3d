import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LmdbStore } from '../src/storage/lmdb-store.js';
import { createOidcAdapterClass } from '../src/authz/oidc-adapter.js';
import { RedisStore } from '../src/storage/redis-store.js';
import type { KeyValueStore } from '../src/storage/store.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { waitFor } from './helpers/wait.js';

const epoch = () => Math.floor(Date.now() / 1000);

/** The one suite both stores must pass. */
function storeSuite(name: string, open: () => Promise<KeyValueStore>, reopen?: (store: KeyValueStore) => Promise<KeyValueStore>) {
  describe(`${name} store`, () => {
    let store: KeyValueStore;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store.close();
    });

    it('stores, reads and deletes JSON values', async () => {
      await store.set('a', { x: [1, 2], y: 'z', empty: [] });
      assert.deepEqual(await store.get('a'), { x: [1, 2], y: 'z', empty: [] });
      await store.delete('a');
      assert.equal(await store.get('a'), undefined);
    });

    it('honours time-to-live', async () => {
      await store.set('short', 1, 1);
      await store.set('long', 2, 60);
      assert.equal(await store.get('short'), 1);
      await waitFor(async () => (await store.get('short')) === undefined, { timeout: 3000, message: 'a 1 s value to expire' });
      assert.equal(await store.get('long'), 2);
    });

    it('setIfAbsent stores only once, and again after expiry', async () => {
      assert.equal(await store.setIfAbsent('once', 'first', 1), true);
      assert.equal(await store.setIfAbsent('once', 'second', 1), false);
      assert.equal(await store.get('once'), 'first');
      await waitFor(async () => (await store.get('once')) === undefined, { timeout: 3000, message: 'a 1 s value to expire' });
      assert.equal(await store.setIfAbsent('once', 'third'), true);
      assert.equal(await store.get('once'), 'third');
    });

    it('increments counters atomically', async () => {
      const counts = await Promise.all(Array.from({ length: 20 }, () => store.increment('counter', 60)));
      assert.deepEqual(
        [...counts].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    });

    it('deletes every key of an index at once', async () => {
      await store.set('g1:a', 1);
      await store.set('g1:b', 2);
      await store.set('other', 3);
      await store.addToIndex('idx:g1', 'g1:a', 60);
      await store.addToIndex('idx:g1', 'g1:b', 60);
      await store.addToIndex('idx:g1', 'g1:b', 60);
      await store.deleteIndexed('idx:g1');
      assert.equal(await store.get('g1:a'), undefined);
      assert.equal(await store.get('g1:b'), undefined);
      assert.equal(await store.get('idx:g1'), undefined);
      assert.equal(await store.get('other'), 3);
    });

    it('lists the members of an index, and nothing for an absent one', async () => {
      await store.addToIndex('idx:listed', 'm:one');
      await store.addToIndex('idx:listed', 'm:two');
      await store.addToIndex('idx:listed', 'm:one');
      assert.deepEqual((await store.members('idx:listed')).sort(), ['m:one', 'm:two']);
      assert.deepEqual(await store.members('idx:absent'), []);
      await store.deleteIndexed('idx:listed');
      assert.deepEqual(await store.members('idx:listed'), []);
    });

    it('answers ping while reachable, and refuses it once the store is gone', async () => {
      await assert.doesNotReject(store.ping());
      const gone = await open();
      await gone.close();
      await assert.rejects(gone.ping(), /closed/);
    });

    describe('as oidc-provider adapter', () => {
      const adapterFor = (model: string, duplicateCodeWindow?: number) => {
        const Adapter = createOidcAdapterClass(store, { duplicateCodeWindow });
        return new Adapter(model);
      };

      it('finds by id, uid and user code, and destroys', async () => {
        const sessions = adapterFor('Session');
        await sessions.upsert('s1', { uid: 'u1', accountId: 'acc', exp: epoch() + 60 } as never, 60);
        assert.equal((await sessions.find('s1'))?.accountId, 'acc');
        assert.equal((await sessions.findByUid('u1'))?.accountId, 'acc');
        await sessions.destroy('s1');
        assert.equal(await sessions.find('s1'), undefined);
        const devices = adapterFor('DeviceCode');
        await devices.upsert('d1', { userCode: 'ABCD', exp: epoch() + 60 } as never, 60);
        assert.ok(await devices.findByUserCode('ABCD'));
      });

      it('marks consumption without rewriting the payload', async () => {
        const codes = adapterFor('AuthorizationCode', 0);
        await codes.upsert('c1', { grantId: 'gc', exp: epoch() + 60, scope: 'a b' } as never, 60);
        await codes.consume('c1');
        const found = await codes.find('c1');
        assert.equal(found?.scope, 'a b');
        assert.equal(typeof found?.consumed, 'number');
      });

      it('refuses a code exchanged a moment ago as a duplicate, without marking anything', async () => {
        const codes = adapterFor('AuthorizationCode', 10);
        await codes.upsert('c9', { grantId: 'g9', exp: epoch() + 60 } as never, 60);
        await codes.consume('c9');
        const duplicate = (error: { error_description?: string }) => /duplicate exchange/.test(error.error_description ?? '');
        await assert.rejects(codes.find('c9'), duplicate);
        await assert.rejects(codes.consume('c9'), duplicate);
      });

      it('revokes every artifact of a grant and nothing else', async () => {
        const codes = adapterFor('AuthorizationCode');
        const refresh = adapterFor('RefreshToken');
        await codes.upsert('c2', { grantId: 'g2', exp: epoch() + 60 } as never, 60);
        await refresh.upsert('r2', { grantId: 'g2', exp: epoch() + 60 } as never, 60);
        await refresh.upsert('r3', { grantId: 'g3', exp: epoch() + 60 } as never, 60);
        await refresh.revokeByGrantId('g2');
        assert.equal(await codes.find('c2'), undefined);
        assert.equal(await refresh.find('r2'), undefined);
        assert.ok(await refresh.find('r3'));
      });

      it('shows a used refresh token as used at once, and lets only one rotation mark it', async () => {
        const refresh = adapterFor('RefreshToken');
        await refresh.upsert('old', { grantId: 'g4', exp: epoch() + 60 } as never, 60);
        await refresh.consume('old');
        assert.equal(typeof (await refresh.find('old'))?.consumed, 'number', 'no grace: a repeat is answered before the adapter');
        await assert.rejects(refresh.consume('old'), (error: { error?: string }) => error.error === 'invalid_grant');
      });
    });

    if (reopen) {
      it('keeps everything across a reopen', async () => {
        await store.set('durable', { v: 1 });
        await store.set('durable-ttl', 'x', 60);
        store = await reopen(store);
        assert.deepEqual(await store.get('durable'), { v: 1 });
        assert.equal(await store.get('durable-ttl'), 'x');
      });
    }
  });
}

const lmdbDir = mkdtempSync(join(tmpdir(), 'gw-store-'));
storeSuite(
  'LMDB',
  async () => new LmdbStore(lmdbDir),
  async (store) => {
    await store.close();
    return new LmdbStore(lmdbDir);
  },
);

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});
storeSuite(
  'Redis',
  async () => new RedisStore(redis.url, `test-${process.pid}:`),
  async (store) => {
    await store.close();
    return new RedisStore(redis.url, `test-${process.pid}:`);
  },
);

describe('Redis store', () => {
  it('reports an unreachable server through ping instead of crashing', async () => {
    const store = new RedisStore('redis://127.0.0.1:1/0');
    await assert.rejects(store.ping());
    await store.close();
  });
});
