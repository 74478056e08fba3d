import type Provider from 'oidc-provider';
import type { Logger } from '../log/logger.js';
import type { KeyValueStore } from '../storage/store.js';
import { isAccountClient } from './account-client.js';
import { forgetGrant } from './consent-memory.js';
import { wasReplayed } from './idempotent-token-exchange.js';

/** What the store keeps per person and application (the grant itself stays oidc-provider's). */
interface ApplicationRecord {
  clientId: string;
  grantId: string;
  /** When the person first allowed it (ms since the epoch). */
  firstUsed: number;
  /** When it last got tokens: its first code exchange or its latest refresh. */
  lastUsed: number;
}

/** One application as the account page lists it. */
export interface ConnectedApplication {
  clientId: string;
  clientName: string;
  /** The resource URLs (MCP servers) the person allowed it to use. */
  resources: string[];
  /** Redirect URIs, to tell two registrations with one name apart (and to find its token lifetime). */
  redirectUris: string[];
  firstUsed: number;
  lastUsed: number;
}

const recordKey = (sub: string, clientId: string) => `application:${sub}:${clientId}`;
const indexKey = (sub: string) => `applications:${sub}`;

/**
 * Every application a person has allowed, found again from the person: the grants themselves are
 * stored by id only. Each record lives as long as an unused grant does, from its last use.
 */
export class ConnectedApplications {
  constructor(
    private readonly store: KeyValueStore,
    private readonly provider: Provider,
    private readonly ttlSeconds: number,
  ) {}

  /** A grant was approved on the consent page (a new one, or more servers added to the same one). */
  async recordGrant(sub: string, clientId: string, grantId: string): Promise<void> {
    const existing = await this.store.get<ApplicationRecord>(recordKey(sub, clientId));
    const now = Date.now();
    const firstUsed = existing?.grantId === grantId ? existing.firstUsed : now;
    await this.save(sub, { clientId, grantId, firstUsed, lastUsed: existing?.grantId === grantId ? existing.lastUsed : now });
  }

  /** The application got tokens under this grant; a grant approved before records were kept is recorded now. */
  async recordUse(sub: string, clientId: string, grantId: string): Promise<void> {
    const existing = await this.store.get<ApplicationRecord>(recordKey(sub, clientId));
    const now = Date.now();
    await this.save(sub, { clientId, grantId, firstUsed: existing?.grantId === grantId ? existing.firstUsed : now, lastUsed: now });
  }

  private async save(sub: string, record: ApplicationRecord): Promise<void> {
    const key = recordKey(sub, record.clientId);
    await this.store.set(key, record, this.ttlSeconds);
    await this.store.addToIndex(indexKey(sub), key, this.ttlSeconds);
  }

  /** The person's applications whose grant still exists, most recently used first. */
  async list(sub: string): Promise<ConnectedApplication[]> {
    const keys = await this.store.members(indexKey(sub));
    const found = await Promise.all(keys.map((key) => this.describe(sub, key)));
    return found.filter((app): app is ConnectedApplication => app !== undefined).sort((a, b) => b.lastUsed - a.lastUsed);
  }

  private async describe(sub: string, key: string): Promise<ConnectedApplication | undefined> {
    const record = await this.store.get<ApplicationRecord>(key);
    if (!record) return undefined;
    const grant = await this.provider.Grant.find(record.grantId);
    if (!grant || grant.accountId !== sub || grant.clientId !== record.clientId) return undefined;
    const client = await this.provider.Client.find(record.clientId).catch(() => undefined);
    return {
      clientId: record.clientId,
      clientName: client?.clientName ?? record.clientId,
      resources: Object.keys(grant.resources ?? {}),
      redirectUris: [...(client?.redirectUris ?? [])],
      firstUsed: record.firstUsed,
      lastUsed: record.lastUsed,
    };
  }

  /**
   * The person takes an application's access away: its grant, its refresh tokens and codes, and the
   * remembered consent are deleted, so it must ask again. Returns the revoked grant's id, or
   * undefined when this person had no such application.
   */
  async revoke(sub: string, clientId: string): Promise<string | undefined> {
    const key = recordKey(sub, clientId);
    const record = await this.store.get<ApplicationRecord>(key);
    if (!record) return undefined;
    const grant = await this.provider.Grant.find(record.grantId);
    if (grant && grant.accountId !== sub) return undefined;
    // Every model's tokens are indexed under the grant in one set: one call deletes them all.
    await this.provider.RefreshToken.revokeByGrantId(record.grantId);
    await grant?.destroy();
    await forgetGrant(this.store, sub, clientId);
    await this.store.delete(key);
    return record.grantId;
  }
}

/** Each token issued (code exchange or refresh) marks its application as used. */
export function trackApplicationUse(provider: Provider, applications: ConnectedApplications, logger: Logger): void {
  provider.on('grant.success', (ctx) => {
    if (wasReplayed(ctx)) return;
    const sub = ctx.oidc.account?.accountId;
    const clientId = ctx.oidc.client?.clientId;
    const grantId = ctx.oidc.entities.Grant?.jti;
    if (!sub || !clientId || !grantId || isAccountClient(clientId)) return;
    applications.recordUse(sub, clientId, grantId).catch((error: unknown) => {
      logger.warn({ err: error, clientId, sub }, 'could not record when the application was last used');
    });
  });
}
