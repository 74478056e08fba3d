/**
 * Clients' key sets (`jwks_uri`), for `private_key_jwt` client assertions. oidc-provider fetches a
 * key set through the `fetch` it is given; this sits in front of it: the copy is kept in the
 * key-value store (replicas and restarts share it), refetched when stale or when an assertion
 * names a `kid` the copy lacks, and the last good copy is served when the host refuses (ChatGPT's
 * host refuses some datacenter fetches). Every real fetch is still the SSRF-safe one.
 */
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { KeyValueStore } from '../storage/store.js';

export interface KeySet {
  keys: Array<Record<string, unknown>>;
}

interface CachedKeySet extends KeySet {
  /** Epoch seconds of the last successful fetch. */
  fetchedAt: number;
}

export interface KeySetCacheOptions {
  /** Seconds a copy is used without asking the host again. */
  freshFor?: number;
  /** Seconds after a fetch during which an unknown `kid` does not cause another (random kids cannot make the gateway hammer a host). */
  unknownKidCooldown?: number;
  /** Seconds the last good copy is kept for when the host keeps refusing. */
  keepFor?: number;
  now?: () => number;
}

const DEFAULTS = { freshFor: 10 * 60, unknownKidCooldown: 10, keepFor: 30 * 24 * 60 * 60 };

/** A JWK set that could be used: an object whose `keys` are objects, none symmetric or private. */
function keySetProblem(body: unknown): string | undefined {
  const keys = (body as KeySet | null)?.keys;
  if (typeof body !== 'object' || body === null || !Array.isArray(keys)) return 'not a JSON Web Key Set';
  for (const key of keys) {
    if (typeof key !== 'object' || key === null) return 'a key is not an object';
    if (key.kty === 'oct' || 'd' in key) return 'symmetric or private keys';
  }
  return undefined;
}

export class ClientKeySets {
  private readonly options: Required<KeySetCacheOptions>;
  /** One fetch per URL at a time in this process: a hundred connectors at once cause one. */
  private readonly pending = new Map<string, Promise<CachedKeySet>>();

  constructor(
    private readonly store: KeyValueStore,
    private readonly fetchUrl: typeof fetch,
    options: KeySetCacheOptions = {},
  ) {
    this.options = { ...DEFAULTS, now: () => Math.floor(Date.now() / 1000), ...options };
  }

  /** The key set at `url`, holding `kid` when the host has it. Throws only when there never was a good copy. */
  async keySet(url: string, kid?: string): Promise<KeySet> {
    const cached = await this.store.get<CachedKeySet>(`keyset:${url}`);
    if (cached && !this.shouldRefetch(cached, kid)) return cached;
    try {
      return await this.download(url);
    } catch (error) {
      if (cached) return cached;
      throw error;
    }
  }

  private shouldRefetch(cached: CachedKeySet, kid: string | undefined): boolean {
    const age = this.options.now() - cached.fetchedAt;
    if (age >= this.options.freshFor) return true;
    const knowsKid = kid === undefined || cached.keys.some((key) => key.kid === kid);
    return !knowsKid && age >= this.options.unknownKidCooldown;
  }

  private download(url: string): Promise<CachedKeySet> {
    let request = this.pending.get(url);
    if (!request) {
      request = this.fetchAndKeep(url).finally(() => this.pending.delete(url));
      this.pending.set(url, request);
    }
    return request;
  }

  private async fetchAndKeep(url: string): Promise<CachedKeySet> {
    const response = await this.fetchUrl(url, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual' });
    if (response.status !== 200) throw new Error(`${url} answered HTTP ${response.status}`);
    let body: unknown;
    try {
      body = JSON.parse(await response.text());
    } catch {
      throw new Error(`${url} did not answer JSON (a refusal page?)`);
    }
    const problem = keySetProblem(body);
    if (problem) throw new Error(`${url}: ${problem}`);
    const fresh: CachedKeySet = { keys: (body as KeySet).keys, fetchedAt: this.options.now() };
    await this.store.set(`keyset:${url}`, fresh, this.options.keepFor);
    return fresh;
  }
}

/** The `kid` in a client assertion's header, when there is one. */
export function assertionKid(assertion: unknown): string | undefined {
  if (typeof assertion !== 'string') return undefined;
  try {
    const header = JSON.parse(Buffer.from(assertion.split('.')[0]!, 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `fetch` oidc-provider is given: a request for the current client's own `jwks_uri` is
 * answered from `keySets` (with the `kid` of the assertion being checked); anything else goes to `fetchUrl`.
 */
export function fetchWithKeySetCache(fetchUrl: typeof fetch, keySets: ClientKeySets): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const ctx = Provider.ctx as KoaContextWithOIDC | undefined;
    const jwksUri = ctx?.oidc?.client?.jwksUri;
    if (!jwksUri || new URL(jwksUri).href !== url) return fetchUrl(input, init);
    const keySet = await keySets.keySet(url, assertionKid(ctx.oidc.params?.client_assertion));
    // A minute: oidc-provider keeps its own copy in the client no longer than that.
    return new Response(JSON.stringify({ keys: keySet.keys }), {
      status: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'max-age=60' },
    });
  }) as typeof fetch;
}
