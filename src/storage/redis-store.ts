import { Redis } from 'ioredis';
import type { KeyValueStore } from './store.js';

const DELETE_INDEXED = `
local members = redis.call('SMEMBERS', KEYS[1])
for _, key in ipairs(members) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
return #members`;

const INCREMENT_WITH_TTL = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n`;

/** Redis-backed store for replicas; keys live under a prefix so a shared Redis is never wiped. */
export class RedisStore implements KeyValueStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  readonly description: string;

  constructor(url: string, prefix = 'mcpgw:') {
    this.prefix = prefix;
    this.redis = new Redis(url, {
      lazyConnect: false,
      // While Redis is away, commands fail within a few hundred milliseconds instead of
      // queueing: requests answer 503 rather than hang. Reconnection continues in the background.
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      connectTimeout: 5000,
      commandTimeout: 3000,
    });
    // Errors surface through the commands that fail; an unhandled 'error' event would crash.
    this.redis.on('error', () => {});
    const parsed = new URL(url);
    parsed.password = parsed.password ? '***' : '';
    this.description = parsed.toString();
  }

  /** The connection, for features that keep their own keys next to the store's (rate limits). */
  get client(): Redis {
    return this.redis;
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(this.k(key));
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async set(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    const json = JSON.stringify(value);
    if (ttlSeconds && ttlSeconds > 0) await this.redis.set(this.k(key), json, 'EX', Math.ceil(ttlSeconds));
    else await this.redis.set(this.k(key), json);
  }

  async setIfAbsent(key: string, value: unknown, ttlSeconds?: number): Promise<boolean> {
    const json = JSON.stringify(value);
    const result =
      ttlSeconds && ttlSeconds > 0
        ? await this.redis.set(this.k(key), json, 'EX', Math.ceil(ttlSeconds), 'NX')
        : await this.redis.set(this.k(key), json, 'NX');
    return result === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.k(key));
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    return Number(await this.redis.eval(INCREMENT_WITH_TTL, 1, this.k(key), Math.ceil(ttlSeconds)));
  }

  async addToIndex(indexKey: string, member: string, ttlSeconds?: number): Promise<void> {
    const key = this.k(indexKey);
    const multi = this.redis.multi().sadd(key, this.k(member));
    if (ttlSeconds && ttlSeconds > 0) {
      const ttl = Math.ceil(ttlSeconds);
      // NX sets a TTL on a new set, GT only ever lengthens an existing one.
      multi.call('EXPIRE', key, ttl, 'NX').call('EXPIRE', key, ttl, 'GT');
    } else {
      multi.persist(key);
    }
    await multi.exec();
  }

  async deleteIndexed(indexKey: string): Promise<void> {
    await this.redis.eval(DELETE_INDEXED, 1, this.k(indexKey));
  }

  async members(indexKey: string): Promise<string[]> {
    // The set holds prefixed keys (deleteIndexed deletes them as they are); callers see their own keys.
    const members = await this.redis.smembers(this.k(indexKey));
    return members.map((member) => (member.startsWith(this.prefix) ? member.slice(this.prefix.length) : member));
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
