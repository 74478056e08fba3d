import { resolve } from 'node:path';
import { LmdbStore } from './lmdb-store.js';
import { RedisStore } from './redis-store.js';
import type { KeyValueStore } from './store.js';

/** Opens the store named by the config's `storage` string ("lmdb:<dir>" or "redis://…"). */
export function openStore(spec: string, baseDir = process.cwd()): KeyValueStore {
  if (spec.startsWith('lmdb:')) return new LmdbStore(resolve(baseDir, spec.slice('lmdb:'.length)));
  if (/^rediss?:\/\//.test(spec)) return new RedisStore(spec);
  throw new Error(`unsupported storage "${spec}"`);
}
