import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertionKid, ClientKeySets } from '../../src/authz/client-key-sets.js';
import type { KeyValueStore } from '../../src/storage/store.js';

const URL = 'https://chatgpt.com/oauth/jwks.json';

/** The two calls the cache makes, over a Map. */
function memoryStore(): KeyValueStore {
  const values = new Map<string, unknown>();
  return {
    get: async (key: string) => values.get(key),
    set: async (key: string, value: unknown) => void values.set(key, structuredClone(value)),
  } as unknown as KeyValueStore;
}

/** A host whose answer the test sets; counts requests. */
function host() {
  const state = { calls: 0, answer: (): Response => Response.json({ keys: [{ kty: 'RSA', kid: 'k1', n: 'n', e: 'AQAB' }] }) };
  const fetchUrl = (async () => {
    state.calls++;
    return state.answer();
  }) as unknown as typeof fetch;
  return { state, fetchUrl };
}

function setUp() {
  const clock = { now: 1_000_000 };
  const { state, fetchUrl } = host();
  const store = memoryStore();
  const keySets = new ClientKeySets(store, fetchUrl, { freshFor: 600, unknownKidCooldown: 10, now: () => clock.now });
  return { clock, state, store, keySets, fetchUrl };
}

const kids = (set: { keys: Array<Record<string, unknown>> }) => set.keys.map((key) => key.kid);

describe('client key sets', () => {
  it('fetches once and serves the copy while fresh, also to another replica sharing the store', async () => {
    const { state, keySets, store, fetchUrl, clock } = setUp();
    assert.deepEqual(kids(await keySets.keySet(URL, 'k1')), ['k1']);
    await keySets.keySet(URL, 'k1');
    const replica = new ClientKeySets(store, fetchUrl, { now: () => clock.now });
    await replica.keySet(URL, 'k1');
    assert.equal(state.calls, 1);
  });

  it('refetches when stale', async () => {
    const { state, keySets, clock } = setUp();
    await keySets.keySet(URL, 'k1');
    clock.now += 601;
    await keySets.keySet(URL, 'k1');
    assert.equal(state.calls, 2);
  });

  it('refetches once for an unknown kid after the cooldown, and picks up a rotated key', async () => {
    const { state, keySets, clock } = setUp();
    await keySets.keySet(URL, 'k1');
    await keySets.keySet(URL, 'k2');
    assert.equal(state.calls, 1, 'inside the cooldown an unknown kid causes no fetch');
    clock.now += 11;
    state.answer = () => Response.json({ keys: [{ kty: 'RSA', kid: 'k2', n: 'n', e: 'AQAB' }] });
    assert.deepEqual(kids(await keySets.keySet(URL, 'k2')), ['k2']);
    assert.equal(state.calls, 2);
  });

  for (const [what, answer] of [
    ['a 403 refusal page', () => new Response('<html>blocked</html>', { status: 403 })],
    ['an HTML challenge with 200', () => new Response('<html>checking your browser</html>', { status: 200 })],
    ['a network failure', () => Promise.reject(new Error('ECONNRESET')) as unknown as Response],
    ['a symmetric key', () => Response.json({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })],
    ['a private key', () => Response.json({ keys: [{ kty: 'RSA', kid: 'k1', n: 'n', e: 'AQAB', d: 'd' }] })],
  ] as const) {
    it(`keeps the last good copy when the host answers ${what}`, async () => {
      const { state, keySets, clock } = setUp();
      await keySets.keySet(URL, 'k1');
      state.answer = answer as () => Response;
      clock.now += 601;
      assert.deepEqual(kids(await keySets.keySet(URL, 'k1')), ['k1']);
      assert.equal(state.calls, 2);
    });
  }

  it('throws when there never was a good copy', async () => {
    const { state, keySets } = setUp();
    state.answer = () => new Response('<html>blocked</html>', { status: 403 });
    await assert.rejects(keySets.keySet(URL, 'k1'), /HTTP 403/);
  });

  it('makes one request for many callers at once', async () => {
    const { state, keySets } = setUp();
    await Promise.all(Array.from({ length: 20 }, () => keySets.keySet(URL, 'k1')));
    assert.equal(state.calls, 1);
  });

  it("reads the kid of an assertion's header, and nothing from garbage", () => {
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k9' })).toString('base64url');
    assert.equal(assertionKid(`${header}.e30.sig`), 'k9');
    assert.equal(assertionKid('not a jwt'), undefined);
    assert.equal(assertionKid(undefined), undefined);
  });
});
