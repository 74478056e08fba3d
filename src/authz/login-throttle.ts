import type { KeyValueStore } from '../storage/store.js';

export interface ThrottleLimits {
  perAccount: number;
  perIp: number;
  windowSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { perAccount: 5, perIp: 20, windowSeconds: 15 * 60 };

/**
 * Counts failed logins per account and per client IP in the shared store, so the limit holds
 * across restarts and replicas. Past the limit, logins are refused until the window ends.
 */
export class LoginThrottle {
  constructor(private readonly store: KeyValueStore, private readonly limits: ThrottleLimits = DEFAULT_THROTTLE) {}

  private accountKey(email: string): string {
    return `throttle:login:account:${email.toLowerCase()}`;
  }

  private ipKey(ip: string): string {
    return `throttle:login:ip:${ip}`;
  }

  async isBlocked(email: string, ip: string): Promise<boolean> {
    const [account, address] = await Promise.all([
      this.store.get<number>(this.accountKey(email)),
      this.store.get<number>(this.ipKey(ip)),
    ]);
    return (account ?? 0) >= this.limits.perAccount || (address ?? 0) >= this.limits.perIp;
  }

  async recordFailure(email: string, ip: string): Promise<void> {
    await Promise.all([
      this.store.increment(this.accountKey(email), this.limits.windowSeconds),
      this.store.increment(this.ipKey(ip), this.limits.windowSeconds),
    ]);
  }

  async recordSuccess(email: string): Promise<void> {
    await this.store.delete(this.accountKey(email));
  }

  get windowMinutes(): number {
    return Math.ceil(this.limits.windowSeconds / 60);
  }
}
