/**
 * The one storage interface behind everything the gateway persists: clients, grants, tokens,
 * sessions, interactions, keys, accounts, consents and throttles. Values are JSON-compatible.
 * Two implementations (embedded LMDB and Redis) pass the same test suite.
 */
export interface KeyValueStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Stores a value; `ttlSeconds` makes it disappear after that long. */
  set(key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  /** Stores a value only when the key is absent; true when it was stored. */
  setIfAbsent(key: string, value: unknown, ttlSeconds?: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Atomically increments a counter, creating it with `ttlSeconds` when absent; returns the new count. */
  increment(key: string, ttlSeconds: number): Promise<number>;
  /** Adds `member` to the set at `indexKey`, keeping the set alive at least `ttlSeconds`. */
  addToIndex(indexKey: string, member: string, ttlSeconds?: number): Promise<void>;
  /** Atomically deletes every key listed in the set at `indexKey`, and the set itself. */
  deleteIndexed(indexKey: string): Promise<void>;
  /** The keys listed in the set at `indexKey` (in no particular order); empty when there is none. */
  members(indexKey: string): Promise<string[]>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
  readonly description: string;
}

export function ttlToExpiry(ttlSeconds: number | undefined, now = Date.now()): number | undefined {
  return ttlSeconds && ttlSeconds > 0 ? now + ttlSeconds * 1000 : undefined;
}
