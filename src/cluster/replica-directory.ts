import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { KeyValueStore } from '../storage/store.js';

const HEARTBEAT_MS = 5_000;
const LIVENESS_TTL_S = 15;
const CACHE_MS = 5_000;

interface ReplicaRecord {
  url: string;
  startedAt: number;
}

/**
 * The replicas sharing one Redis, each announcing the internal URL the others can reach it at.
 * A replica's id is new at every start, so a restarted replica never claims sessions its
 * previous life held (their stdio processes died with it).
 */
export class ReplicaDirectory {
  /** base64url without "." so it can prefix session ids. */
  readonly id = randomBytes(6).toString('base64url');
  private heartbeat?: NodeJS.Timeout;
  private readonly cache = new Map<string, { url: string | undefined; until: number }>();

  constructor(private readonly store: KeyValueStore, readonly advertiseUrl: string, private readonly logger: Logger) {}

  private key(id: string): string {
    return `replica:${id}`;
  }

  async start(): Promise<void> {
    await this.announce();
    this.heartbeat = setInterval(() => {
      this.announce().catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, 'could not renew this replica in the directory'));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.logger.info({ replica: this.id, advertiseUrl: this.advertiseUrl }, 'replica announced');
  }

  private announce(): Promise<void> {
    return this.store.set(this.key(this.id), { url: this.advertiseUrl, startedAt: Date.now() } satisfies ReplicaRecord, LIVENESS_TTL_S);
  }

  /** The URL of a live replica, or undefined when it stopped announcing itself (it died or left). */
  async urlOf(id: string): Promise<string | undefined> {
    const cached = this.cache.get(id);
    if (cached && cached.until > Date.now()) return cached.url;
    const record = await this.store.get<ReplicaRecord>(this.key(id));
    this.cache.set(id, { url: record?.url, until: Date.now() + CACHE_MS });
    return record?.url;
  }

  /** After a failed forward: ask the directory again next time instead of trusting the cache. */
  forget(id: string): void {
    this.cache.delete(id);
  }

  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.store.delete(this.key(this.id)).catch(() => {});
  }
}
