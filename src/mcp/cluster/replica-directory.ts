import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log/logger.js';
import type { KeyValueStore } from '../../storage/store.js';
import { AddressClaims, type DuplicateAddress } from './address-claims.js';

const HEARTBEAT_MS = 5_000;
const LIVENESS_TTL_S = 15;
const CACHE_MS = 5_000;
/** How long a replica seen alive is still tried when the directory cannot confirm it. */
const REMEMBER_MS = 60_000;

interface ReplicaRecord {
  url: string;
  /** When the replica last renewed its entry. */
  announcedAt: number;
}

/**
 * The replicas sharing one Redis, each announcing the internal URL the others can reach it at.
 * A replica's id is new at every start, so a restarted replica never claims sessions its
 * previous life held (their stdio processes died with it). Replicas that advertise the same URL
 * are found and reported (`duplicate`), since sessions then land on the wrong one.
 */
export class ReplicaDirectory {
  /** base64url without "." so it can prefix session ids. */
  readonly id = randomBytes(6).toString('base64url');
  private heartbeat?: NodeJS.Timeout;
  /** Replicas seen in the directory, with when they were last seen there. */
  private readonly cache = new Map<string, { url: string; seenAt: number }>();
  private readonly claims: AddressClaims;
  /** The URL announced, once started. */
  advertiseUrl = '';
  /** Two live replicas advertising one URL, as last seen in the directory. */
  duplicate?: DuplicateAddress;

  constructor(
    private readonly store: KeyValueStore,
    private readonly logger: Logger,
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {
    this.claims = new AddressClaims(store, this.id, async (id) => (await this.store.get<ReplicaRecord>(this.key(id)))?.announcedAt);
  }

  private key(id: string): string {
    return `replica:${id}`;
  }

  /** `detected`: the URL was worked out from the listening address, not set in `cluster.advertiseUrl`. */
  async start(advertiseUrl: string, detected = false): Promise<void> {
    this.advertiseUrl = advertiseUrl;
    await this.announce();
    this.heartbeat = setInterval(() => {
      this.announce().catch((error: unknown) =>
        this.logger.warn({ err: (error as Error).message }, 'could not renew this replica in the directory'),
      );
    }, this.heartbeatMs);
    this.heartbeat.unref();
    this.logger.info(
      { event: 'cluster.joined', replica: this.id, advertiseUrl, detected },
      detected
        ? 'replica announced at a detected address (set cluster.advertiseUrl if the other replicas cannot reach it there)'
        : 'replica announced',
    );
  }

  private async announce(): Promise<void> {
    await this.store.set(this.key(this.id), { url: this.advertiseUrl, announcedAt: Date.now() } satisfies ReplicaRecord, LIVENESS_TTL_S);
    const duplicate = await this.claims.check(this.advertiseUrl, LIVENESS_TTL_S);
    if (duplicate && JSON.stringify(duplicate) !== JSON.stringify(this.duplicate)) {
      this.logger.warn(
        { event: 'cluster.duplicate_address', advertiseUrl: duplicate.url, replicas: duplicate.replicas },
        "two replicas advertise the same address, so requests for one's sessions can reach the other and fail: " +
          'give each replica its own cluster.advertiseUrl',
      );
    }
    this.duplicate = duplicate;
  }

  /**
   * The URL of a replica, or undefined when it is unknown. While Redis is unreachable, or its
   * entry is missing just after an outage (entries expire; the next heartbeat restores them), a
   * replica seen in the last minute is still tried: the forward itself tells whether it is alive.
   */
  async urlOf(id: string): Promise<string | undefined> {
    const cached = this.cache.get(id);
    if (cached && Date.now() - cached.seenAt < CACHE_MS) return cached.url;
    let record: ReplicaRecord | undefined;
    try {
      record = await this.store.get<ReplicaRecord>(this.key(id));
    } catch (error) {
      if (cached) return cached.url;
      throw error;
    }
    if (record) {
      this.cache.set(id, { url: record.url, seenAt: Date.now() });
      return record.url;
    }
    return cached && Date.now() - cached.seenAt < REMEMBER_MS ? cached.url : undefined;
  }

  /** After a failed forward: ask the directory again next time instead of trusting the cache. */
  forget(id: string): void {
    this.cache.delete(id);
  }

  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.store.delete(this.key(this.id)).catch(() => {});
    if (this.advertiseUrl) await this.claims.release(this.advertiseUrl).catch(() => {});
  }
}
