import type { Redis } from 'ioredis';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { GatewayConfig, RateLimitName, RateLimitRule } from '../config/schema.js';

/** The `rateLimits` block of the config: one rule (or false) per limit. */
export type RateLimitRules = GatewayConfig['rateLimits'];
import type { Logger } from '../log/logger.js';
import { audit, type AuditEvent } from '../observability/audit.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { RateLimited } from './errors.js';

/** Keys of the limiters in Redis (next to the store's own `mcpgw:` keys). */
const REDIS_PREFIX = 'mcpgw:ratelimit:';

/**
 * The request rate limits of `rateLimits`: per client IP for sign-in, /register and /token, per
 * person (token sub) for MCP requests. In Redis when the storage is Redis, so every replica counts
 * into the same window; in memory otherwise. While Redis is unreachable each replica counts in
 * memory instead of failing requests.
 */
export class RateLimits {
  private readonly limiters = new Map<RateLimitName, { limiter: RateLimiterAbstract; rule: RateLimitRule }>();
  /** Deferred limits (see takeWithoutWaiting): key -> time until which it is refused. */
  private readonly blocked = new Map<string, number>();
  private readonly redisBacked: boolean;
  /** rate-limiter-flexible's answer when a key is over its limit (its other rejections are errors). */
  private readonly isRefusal: (value: unknown) => value is RateLimiterRes;

  /** rate-limiter-flexible is loaded only when some limit is on. */
  static async create(rules: RateLimitRules, logger: Logger, metrics?: GatewayMetrics, redis?: Redis): Promise<RateLimits> {
    const enabled = Object.values(rules).some(Boolean);
    return new RateLimits(rules, logger, metrics, redis, enabled ? await import('rate-limiter-flexible') : undefined);
  }

  private constructor(
    rules: RateLimitRules,
    private readonly logger: Logger,
    private readonly metrics: GatewayMetrics | undefined,
    redis: Redis | undefined,
    library: typeof import('rate-limiter-flexible') | undefined,
  ) {
    this.redisBacked = !!redis;
    this.isRefusal = (value): value is RateLimiterRes => !!library && value instanceof library.RateLimiterRes;
    for (const [name, rule] of Object.entries(rules) as Array<[RateLimitName, RateLimitRule | false]>) {
      if (!rule || !library) continue;
      const options = { points: rule.limit, duration: rule.window };
      const memory = new library.RateLimiterMemory(options);
      const limiter = redis
        ? new library.RateLimiterRedis({ ...options, storeClient: redis, keyPrefix: `${REDIS_PREFIX}${name}`, insuranceLimiter: memory })
        : memory;
      this.limiters.set(name, { limiter, rule });
    }
  }

  enabled(name: RateLimitName): boolean {
    return this.limiters.has(name);
  }

  rule(name: RateLimitName): RateLimitRule | undefined {
    return this.limiters.get(name)?.rule;
  }

  /** Counts `points` requests for `key`; 0 when they may go on, else the seconds until it may retry. */
  async take(name: RateLimitName, key: string, points = 1): Promise<number> {
    const entry = this.limiters.get(name);
    if (!entry) return 0;
    try {
      await entry.limiter.consume(key, points);
      return 0;
    } catch (rejection) {
      if (this.isRefusal(rejection)) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      // Neither Redis nor the in-memory fallback answered: let the request through rather than fail it.
      this.logger.warn(
        { limit: name, err: (rejection as Error)?.message ?? String(rejection) },
        'rate limiter unavailable; request allowed',
      );
      return 0;
    }
  }

  /**
   * For the MCP hot path: with Redis, the request is counted in the background instead of waiting
   * for a round trip, and a key is refused once Redis has said it is over the limit; so each
   * replica may let a request or two past the limit before it refuses. In memory the answer is
   * immediate anyway, and exact.
   */
  takeWithoutWaiting(name: RateLimitName, key: string, points = 1): number | Promise<number> {
    if (!this.redisBacked) return this.take(name, key, points);
    const entry = this.limiters.get(name);
    if (!entry) return 0;
    const blockKey = `${name}\u0000${key}`;
    const until = this.blocked.get(blockKey);
    if (until !== undefined) {
      const wait = until - Date.now();
      if (wait > 0) return Math.max(1, Math.ceil(wait / 1000));
      this.blocked.delete(blockKey);
    }
    entry.limiter.consume(key, points).catch((rejection: unknown) => {
      if (!this.isRefusal(rejection)) return;
      if (this.blocked.size >= 10_000) this.blocked.clear();
      this.blocked.set(blockKey, Date.now() + rejection.msBeforeNext);
    });
    return 0;
  }

  /**
   * Counts one request for `key`: undefined when it may go on, else the RateLimited error to answer
   * with (already logged and counted, with `fields` and `event`). `message` says what was refused.
   */
  async refusal(
    name: RateLimitName,
    key: string,
    message: string,
    fields: Record<string, unknown> = {},
    event?: AuditEvent,
  ): Promise<RateLimited | undefined> {
    const retryAfter = await this.take(name, key);
    if (retryAfter === 0) return undefined;
    this.refused(name, key, retryAfter, fields, event);
    return new RateLimited(message, retryAfter);
  }

  /** Logs and counts a refused request. */
  refused(
    name: RateLimitName,
    key: string,
    retryAfter: number,
    fields: Record<string, unknown> = {},
    event: AuditEvent = 'rate_limited',
  ): void {
    this.metrics?.rateLimited(name);
    const rule = this.limiters.get(name)?.rule;
    audit(
      this.logger,
      event,
      { limit: name, key, retryAfter, allowed: rule ? `${rule.limit} per ${rule.window}s` : undefined, ...fields },
      'rate limit reached',
      'warn',
    );
  }
}
