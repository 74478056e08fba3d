import { mkdirSync } from 'node:fs';
import { open, type RootDatabase } from 'lmdb';
import { ttlToExpiry, type KeyValueStore } from './store.js';

interface Entry {
  v: unknown;
  /** Expiry in epoch milliseconds; absent means never. */
  e?: number;
}

const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/** Embedded, durable store: every write is committed to disk before the promise resolves. */
export class LmdbStore implements KeyValueStore {
  private readonly db: RootDatabase<Entry, string>;
  private readonly sweeper: NodeJS.Timeout;
  readonly description: string;

  constructor(directory: string) {
    mkdirSync(directory, { recursive: true });
    // Conditional writes run as asynchronous transactions: each is atomic and committed (fsync) in
    // a batch with the others off the main thread, where a synchronous one would block every
    // request for its own commit (100 token exchanges at once took seconds). strictAsyncOrder
    // keeps them in the order they were called relative to plain puts and removes.
    this.db = open<Entry, string>({ path: directory, compression: false, strictAsyncOrder: true });
    this.description = `lmdb:${directory}`;
    this.sweepExpired();
    this.sweeper = setInterval(() => this.sweepExpired(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  private live(entry: Entry | undefined, now = Date.now()): entry is Entry {
    return entry !== undefined && (entry.e === undefined || entry.e > now);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const entry = this.db.get(key);
    return this.live(entry) ? (entry.v as T) : undefined;
  }

  async set(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    await this.db.put(key, { v: value, e: ttlToExpiry(ttlSeconds) });
  }

  async setIfAbsent(key: string, value: unknown, ttlSeconds?: number): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.live(this.db.get(key))) return false;
      this.db.putSync(key, { v: value, e: ttlToExpiry(ttlSeconds) });
      return true;
    });
  }

  async delete(key: string): Promise<void> {
    await this.db.remove(key);
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    return this.db.transaction(() => {
      const entry = this.db.get(key);
      const next: Entry = this.live(entry) ? { v: (entry.v as number) + 1, e: entry.e } : { v: 1, e: ttlToExpiry(ttlSeconds) };
      this.db.putSync(key, next);
      return next.v as number;
    });
  }

  async addToIndex(indexKey: string, member: string, ttlSeconds?: number): Promise<void> {
    await this.db.transaction(() => {
      const entry = this.db.get(indexKey);
      const members = this.live(entry) ? (entry.v as string[]) : [];
      const wanted = ttlToExpiry(ttlSeconds);
      const expiry = entry?.e === undefined || wanted === undefined ? undefined : Math.max(entry.e, wanted);
      this.db.putSync(indexKey, { v: members.includes(member) ? members : [...members, member], e: this.live(entry) ? expiry : wanted });
    });
  }

  async deleteIndexed(indexKey: string): Promise<void> {
    await this.db.transaction(() => {
      const entry = this.db.get(indexKey);
      if (entry) for (const key of entry.v as string[]) this.db.removeSync(key);
      this.db.removeSync(indexKey);
    });
  }

  async members(indexKey: string): Promise<string[]> {
    const entry = this.db.get(indexKey);
    return this.live(entry) ? [...(entry.v as string[])] : [];
  }

  async ping(): Promise<void> {
    this.db.get('__ping__');
  }

  /** Expired entries are invisible on read; this reclaims their space. */
  private sweepExpired(): void {
    const now = Date.now();
    const expired: string[] = [];
    for (const { key, value } of this.db.getRange()) {
      if (value?.e !== undefined && value.e <= now) expired.push(key);
    }
    if (expired.length === 0) return;
    this.db.transactionSync(() => {
      for (const key of expired) {
        const entry = this.db.get(key);
        if (entry?.e !== undefined && entry.e <= now) this.db.removeSync(key);
      }
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.db.close();
  }
}
