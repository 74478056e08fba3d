import type { KeyValueStore } from '../../storage/store.js';

/** Two live replicas found advertising one address; every replica reads it from the store. */
export interface DuplicateAddress {
  url: string;
  replicas: string[];
}

const DUPLICATE_KEY = 'replica-duplicate-address';

/**
 * Each replica claims its advertised address in the store. A replica that finds the address
 * held by another one, whose heartbeat it then sees renewed (so not the leftover of a replica
 * killed a moment ago on that address), records the duplicate for all replicas to report: the
 * other replicas would send one's sessions to the other, where they are "not found".
 */
export class AddressClaims {
  /** The holder of our address and its last heartbeat, as seen at our previous check. */
  private holderSeen?: { id: string; announcedAt: number };

  constructor(
    private readonly store: KeyValueStore,
    private readonly selfId: string,
    private readonly announcedAt: (id: string) => Promise<number | undefined>,
  ) {}

  private key(url: string): string {
    return `replica-address:${url}`;
  }

  /** Claims `url` for this replica (again), then returns the duplicate any replica has found, if any. */
  async check(url: string, ttlSeconds: number): Promise<DuplicateAddress | undefined> {
    const key = this.key(url);
    if (!(await this.store.setIfAbsent(key, this.selfId, ttlSeconds))) {
      const holder = await this.store.get<string>(key);
      if (holder === undefined || holder === this.selfId) await this.store.set(key, this.selfId, ttlSeconds);
      else await this.compareWith(holder, url, ttlSeconds);
    }
    return this.store.get<DuplicateAddress>(DUPLICATE_KEY);
  }

  private async compareWith(holder: string, url: string, ttlSeconds: number): Promise<void> {
    const announcedAt = await this.announcedAt(holder);
    if (announcedAt === undefined) {
      // The holder is gone: the address is ours now.
      this.holderSeen = undefined;
      await this.store.set(this.key(url), this.selfId, ttlSeconds);
      return;
    }
    const renewed = this.holderSeen?.id === holder && announcedAt > this.holderSeen.announcedAt;
    this.holderSeen = { id: holder, announcedAt };
    if (renewed) await this.store.set(DUPLICATE_KEY, { url, replicas: [holder, this.selfId] } satisfies DuplicateAddress, ttlSeconds);
  }

  /** On a clean stop: the address is free for the next replica at once. */
  async release(url: string): Promise<void> {
    if ((await this.store.get<string>(this.key(url))) === this.selfId) await this.store.delete(this.key(url));
  }
}
