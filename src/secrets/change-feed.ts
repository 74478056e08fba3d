import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisStore } from '../storage/redis-store.js';
import type { KeyValueStore } from '../storage/store.js';

/** Tells the other replicas (and a CLI's changes, the running gateways) that a person's secrets changed. */
export interface SecretChangeFeed {
  publish(sub: string, server: string): Promise<void>;
  /** `listener` hears of the changes made by other processes (not this one's own); resolves once subscribed. */
  subscribe(listener: (sub: string, server: string) => void): Promise<void>;
  close(): Promise<void>;
}

const CHANNEL = 'mcpgw:secrets:changed';

/** Redis pub/sub; the subscriber connection is opened at the first subscription only. */
class RedisSecretChangeFeed implements SecretChangeFeed {
  private readonly origin = randomUUID();
  private subscriber?: Redis;
  private subscribed?: Promise<void>;
  private readonly listeners: Array<(sub: string, server: string) => void> = [];

  constructor(private readonly redis: Redis) {}

  async publish(sub: string, server: string): Promise<void> {
    await this.redis.publish(CHANNEL, JSON.stringify({ origin: this.origin, sub, server }));
  }

  subscribe(listener: (sub: string, server: string) => void): Promise<void> {
    this.listeners.push(listener);
    if (this.subscribed) return this.subscribed;
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', () => {});
    subscriber.on('message', (_channel: string, message: string) => {
      const change = parseChange(message);
      if (!change || change.origin === this.origin) return;
      for (const each of this.listeners) each(change.sub, change.server);
    });
    // ioredis subscribes again after a reconnection; a failure here is retried the same way.
    this.subscribed = subscriber.subscribe(CHANNEL).then(
      () => undefined,
      () => undefined,
    );
    return this.subscribed;
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}

function parseChange(message: string): { origin: string; sub: string; server: string } | undefined {
  try {
    const change = JSON.parse(message) as { origin?: unknown; sub?: unknown; server?: unknown };
    if (typeof change.origin === 'string' && typeof change.sub === 'string' && typeof change.server === 'string') {
      return { origin: change.origin, sub: change.sub, server: change.server };
    }
  } catch {
    // Not one of ours: ignored.
  }
  return undefined;
}

/**
 * With Redis, changes reach every replica. An embedded LMDB store is one gateway's: a change made
 * by the CLI beside it is read at the next `get`, but its listeners are not told.
 */
export function changeFeedFor(store: KeyValueStore): SecretChangeFeed | undefined {
  return store instanceof RedisStore ? new RedisSecretChangeFeed(store.client) : undefined;
}
