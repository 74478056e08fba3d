import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LastGoodDocuments } from '../../src/authz/last-good-documents.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';

const url = (n: number) => `https://tools.example.org/oauth/client-${n}.json`;
const documentOf = (n: number) => ({ client_id: url(n), redirect_uris: ['https://tools.example.org/cb'] });

describe('LastGoodDocuments', () => {
  const store = new LmdbStore(mkdtempSync(join(tmpdir(), 'gw-last-good-unit-')));
  after(() => store.close());

  it('keeps at most maxDocuments, dropping the oldest first', async () => {
    const clock = { now: 1_000 };
    const kept = new LastGoodDocuments(store, { maxDocuments: 2, now: () => clock.now });
    for (const n of [1, 2, 3]) {
      clock.now += 10;
      await kept.keep(url(n), documentOf(n));
    }
    assert.equal(await kept.get(url(1)), undefined, 'the oldest was dropped');
    assert.deepEqual(await kept.get(url(2)), documentOf(2));
    assert.deepEqual(await kept.get(url(3)), documentOf(3));
  });

  it('a copy kept again is the newest, so it outlives ones kept since', async () => {
    const clock = { now: 5_000 };
    const kept = new LastGoodDocuments(store, { maxDocuments: 2, refreshEvery: 0, now: () => clock.now });
    await kept.keep(url(10), documentOf(10));
    clock.now += 10;
    await kept.keep(url(11), documentOf(11));
    clock.now += 10;
    await kept.keep(url(10), documentOf(10));
    clock.now += 10;
    await kept.keep(url(12), documentOf(12));
    assert.deepEqual(await kept.get(url(10)), documentOf(10));
    assert.equal(await kept.get(url(11)), undefined);
  });

  it('a fresh process finds what another kept (the store is the memory)', async () => {
    await new LastGoodDocuments(store).keep(url(20), documentOf(20));
    assert.deepEqual(await new LastGoodDocuments(store).get(url(20)), documentOf(20));
  });

  it('remembers a failed fetch for retryAfter seconds', () => {
    const clock = { now: 9_000 };
    const kept = new LastGoodDocuments(store, { retryAfter: 60, now: () => clock.now });
    kept.noteFailure(url(30));
    assert.equal(kept.failedRecently(url(30)), true);
    clock.now += 61;
    assert.equal(kept.failedRecently(url(30)), false);
  });
});
