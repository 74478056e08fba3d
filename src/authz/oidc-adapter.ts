import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { KeyValueStore } from '../storage/store.js';

export interface OidcAdapterOptions {
  /** Client metadata served without storage or fetch (pinned CIMD documents). */
  pinnedClients?: ReadonlyMap<string, Record<string, unknown>>;
  /**
   * Seconds after an authorization code was exchanged during which presenting it again is taken
   * for a client's duplicate request (ChatGPT sends the exchange twice): refused, nothing revoked.
   */
  duplicateCodeWindow?: number;
  /** Lifetimes of dynamically registered clients; without it they are kept forever. */
  clientTtl?: ClientLifetimes;
}

/**
 * A registered client lives `unused` seconds; each grant saved or refresh token issued for it
 * extends it to `inUse` from now, which must be at least the longest a grant or refresh token
 * lives, so a client is never forgotten while one of its tokens still works.
 */
export interface ClientLifetimes {
  unused: number;
  inUse: number;
}

export const DEFAULT_DUPLICATE_CODE_WINDOW = 10;

function duplicateCodeExchange(): Error {
  const error = new errors.InvalidGrant('authorization code already used (a duplicate exchange)');
  // Said to the client too, so a retrying client knows its first answer stands.
  error.error_description = 'authorization code already used (a duplicate exchange); the tokens issued for it remain valid';
  return error;
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * oidc-provider's persistence, over the gateway's key-value store. Consumption is a separate
 * marker key so payloads are never rewritten; every artifact of a grant is listed in a
 * `grant:<id>` index so revocation deletes them all in one atomic step.
 */
class StoreAdapter implements Adapter {
  constructor(
    readonly name: string,
    private readonly store: KeyValueStore,
    private readonly options: OidcAdapterOptions,
  ) {}

  private key(id: string): string {
    return `oidc:${this.name}:${id}`;
  }

  private consumedKey(id: string): string {
    return `oidc:consumed:${this.name}:${id}`;
  }

  private static grantIndex(grantId: string): string {
    return `oidc:grant:${grantId}`;
  }

  /**
   * A grant was just saved for this client (consent, or a refresh): it now lives `inUse` from now.
   * Always the same span from the present, so concurrent extensions cannot shorten it.
   * Clients not in storage (Client ID Metadata Documents) are left alone.
   */
  private async keepClient(clientId: string): Promise<void> {
    if (!this.options.clientTtl) return;
    const key = `oidc:Client:${clientId}`;
    const client = await this.store.get<AdapterPayload>(key);
    if (client) await this.store.set(key, client, this.options.clientTtl.inUse);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const key = this.key(id);
    // oidc-provider looks a client assertion's jti up, then saves it: two requests at the same
    // moment would both pass. Saving only when absent makes the second one fail here.
    if (this.name === 'ReplayDetection') {
      if (!(await this.store.setIfAbsent(key, payload, expiresIn)))
        throw new errors.InvalidClientAuth('client assertion tokens must only be used once');
      return;
    }
    // oidc-provider stores only dynamically registered clients, without a lifetime.
    if (this.name === 'Client') expiresIn ??= this.options.clientTtl?.unused;
    await this.store.set(key, payload, expiresIn);
    // The Grant is saved at consent and again at every refresh (rotateRefreshToken): once per use is enough.
    if (this.name === 'Grant' && payload.clientId) await this.keepClient(payload.clientId);
    if (payload.grantId) await this.store.addToIndex(StoreAdapter.grantIndex(payload.grantId), key, expiresIn);
    if (payload.uid) await this.store.set(`oidc:uid:${payload.uid}`, id, expiresIn);
    if (payload.userCode) await this.store.set(`oidc:userCode:${payload.userCode}`, id, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.name === 'Client') {
      const pinned = this.options.pinnedClients?.get(id);
      if (pinned) return { ...pinned } as AdapterPayload;
    }
    const payload = await this.store.get<AdapterPayload>(this.key(id));
    if (!payload) return undefined;
    const consumed = await this.store.get<number>(this.consumedKey(id));
    if (consumed === undefined) return payload;
    // oidc-provider revokes the grant when a code comes back; a duplicate of the exchange that
    // just succeeded must not take the client's fresh tokens away. Later replays still revoke.
    // (An exact duplicate never gets here: it is answered again. This one differs, say in its
    // PKCE verifier.) A used refresh token always comes back consumed, and revokes its grant.
    if (this.name === 'AuthorizationCode' && now() - consumed < (this.options.duplicateCodeWindow ?? DEFAULT_DUPLICATE_CODE_WINDOW))
      throw duplicateCodeExchange();
    return { ...payload, consumed };
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.store.get<string>(`oidc:uid:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.store.get<string>(`oidc:userCode:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async consume(id: string): Promise<void> {
    const payload = await this.store.get<AdapterPayload>(this.key(id));
    if (!payload) return;
    const ttl = payload.exp ? Math.max(1, payload.exp - now()) : undefined;
    const marker = this.consumedKey(id);
    const first = await this.store.setIfAbsent(marker, now(), ttl);
    // Two exchanges of one code, or two rotations of one refresh token, at the same moment: only the
    // first to mark it gets tokens (repeats normally wait for its answer: idempotent-token-exchange.ts).
    if (!first && this.name === 'AuthorizationCode') throw duplicateCodeExchange();
    if (!first && this.name === 'RefreshToken') throw new errors.InvalidGrant('refresh token already used');
    if (payload.grantId) await this.store.addToIndex(StoreAdapter.grantIndex(payload.grantId), marker, ttl);
  }

  async destroy(id: string): Promise<void> {
    await this.store.delete(this.key(id));
    await this.store.delete(this.consumedKey(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.store.deleteIndexed(StoreAdapter.grantIndex(grantId));
  }
}

/** The adapter class oidc-provider instantiates per model name, bound to this store and these options. */
export function createOidcAdapterClass(store: KeyValueStore, options: OidcAdapterOptions) {
  return class extends StoreAdapter {
    constructor(name: string) {
      super(name, store, options);
    }
  };
}
