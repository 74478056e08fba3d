import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { KeyValueStore } from '../storage/store.js';

export interface StoredSigningKey {
  jwk: JWK;
  createdAt: number;
  /** When it stopped signing; it stays published until every token it signed has expired. */
  retiredAt?: number;
}

interface SigningKeyRing {
  keys: StoredSigningKey[];
}

interface CookieKeyRing {
  keys: string[];
}

const SIGNING_KEYS = 'keys:signing';
const COOKIE_KEYS = 'keys:cookies';
const MAX_COOKIE_KEYS = 3;

async function newSigningKey(): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  const createdAt = Date.now();
  return { jwk: { ...jwk, kid: `${createdAt.toString(36)}-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' }, createdAt };
}

/** Drops retired keys once nothing they signed can still be valid. */
function pruneRetired(keys: StoredSigningKey[], maxTokenLifetimeSeconds: number, now = Date.now()): StoredSigningKey[] {
  return keys.filter((key) => key.retiredAt === undefined || now - key.retiredAt < maxTokenLifetimeSeconds * 1000);
}

/**
 * The signing keys, created on first start and kept in storage so a restart (or another replica)
 * signs and verifies with the same ones. The first key signs; retired ones are still published.
 */
export async function loadSigningKeys(store: KeyValueStore, maxTokenLifetimeSeconds: number): Promise<StoredSigningKey[]> {
  const ring = await store.get<SigningKeyRing>(SIGNING_KEYS);
  if (ring?.keys.length) {
    const kept = pruneRetired(ring.keys, maxTokenLifetimeSeconds);
    if (kept.length !== ring.keys.length) await store.set(SIGNING_KEYS, { keys: kept });
    return kept;
  }
  const created: SigningKeyRing = { keys: [await newSigningKey()] };
  // Two replicas starting at once must agree on one key ring.
  if (await store.setIfAbsent(SIGNING_KEYS, created)) return created.keys;
  return (await store.get<SigningKeyRing>(SIGNING_KEYS))!.keys;
}

/** Puts a new signing key first and retires the previous one; returns the new ring. */
export async function rotateSigningKeys(store: KeyValueStore, maxTokenLifetimeSeconds: number): Promise<StoredSigningKey[]> {
  const current = await loadSigningKeys(store, maxTokenLifetimeSeconds);
  const now = Date.now();
  const retired = current.map((key) => (key.retiredAt === undefined ? { ...key, retiredAt: now } : key));
  const keys = [await newSigningKey(), ...retired];
  await store.set(SIGNING_KEYS, { keys });
  return keys;
}

export function publicJwks(keys: StoredSigningKey[]): JWK[] {
  return keys.map(({ jwk }) => {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = jwk;
    return publicPart;
  });
}

/** Keys that sign the provider's cookies; the first signs, the others still verify. */
export async function loadCookieKeys(store: KeyValueStore): Promise<string[]> {
  const ring = await store.get<CookieKeyRing>(COOKIE_KEYS);
  if (ring?.keys.length) return ring.keys;
  const created: CookieKeyRing = { keys: [randomBytes(32).toString('base64url')] };
  if (await store.setIfAbsent(COOKIE_KEYS, created)) return created.keys;
  return (await store.get<CookieKeyRing>(COOKIE_KEYS))!.keys;
}

export async function rotateCookieKeys(store: KeyValueStore): Promise<string[]> {
  const keys = [randomBytes(32).toString('base64url'), ...(await loadCookieKeys(store))].slice(0, MAX_COOKIE_KEYS);
  await store.set(COOKIE_KEYS, { keys });
  return keys;
}
