import { isIP } from 'node:net';
import { ipv6Groups, unmapIpv4 } from '../net/address-policy.js';
import type { KeyValueStore } from '../storage/store.js';
import { sha256Text } from '../lib/same-secret.js';

export interface ThrottleLimits {
  /** Failed passwords per (account, address) before any wait. */
  freeAttempts: number;
  /** The wait after the last free failure; it doubles with each further failure. */
  firstDelaySeconds: number;
  maxDelaySeconds: number;
  /** Failed passwords per address (all accounts) per window: against spraying many accounts. */
  perIp: number;
  /** Failed passwords per account per window from addresses it has never signed in from. */
  perAccount: number;
  windowSeconds: number;
  /** How long an address where the account signed in stays exempt from the perAccount ceiling. */
  knownAddressSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = {
  freeAttempts: 3,
  firstDelaySeconds: 1,
  maxDelaySeconds: 60,
  perIp: 20,
  perAccount: 100,
  windowSeconds: 15 * 60,
  knownAddressSeconds: 30 * 24 * 3600,
};

/** A password attempt that may be checked; hand it back to recordFailure or recordSuccess. */
export interface AdmittedAttempt {
  admitted: true;
  email: string;
  place: string;
  bucket: number;
  /** Attempts from this place since its last success, this one included. */
  attempt: number;
  countedForAccount: boolean;
}

export interface RefusedAttempt {
  admitted: false;
  reason: 'wait' | 'busy' | 'address' | 'account';
  retryAfter: number;
  /** For the person, with the wait in it. */
  message: string;
}

/** Seconds a verification may hold its (account, address) slot if the request dies midway. */
const BUSY_SECONDS = 10;

/** An IPv6 /64 is one subscriber (so one stranger), and IPv4-mapped IPv6 is its IPv4 address. */
export function placeOf(ip: string): string {
  const plain = unmapIpv4(ip);
  if (plain !== ip || isIP(ip) !== 6) return plain;
  const groups = ipv6Groups(ip);
  return groups
    ? `${groups
        .slice(0, 4)
        .map((group) => group.toString(16))
        .join(':')}::/64`
    : ip;
}

export function waitText(seconds: number): string {
  if (seconds < 120) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/** A key part as typed (readable in the store), or its hash when a form field is long: LMDB keys stop at 1978 bytes. */
const keyPart = (part: string | number): string => {
  const text = encodeURIComponent(String(part));
  return text.length <= 200 ? text : `sha256-${sha256Text(String(part))}`;
};

/**
 * Password sign-in throttle, in the shared store (holds across restarts and replicas).
 * Every attempt is counted before its password is checked, so parallel guesses cannot slip
 * through: per (account, address) only one check runs at a time, and after `freeAttempts`
 * failures each further one waits 1 s, 2 s, 4 s… up to `maxDelaySeconds`; a success resets it.
 * A stranger elsewhere cannot lock the owner out: the address cap only stops that address, and
 * the per-account ceiling never applies at an address where the account has signed in before.
 */
export class LoginThrottle {
  private readonly limits: ThrottleLimits;

  constructor(
    private readonly store: KeyValueStore,
    limits: Partial<ThrottleLimits> = {},
  ) {
    this.limits = { ...DEFAULT_THROTTLE, ...limits };
  }

  private key(kind: string, ...parts: Array<string | number>): string {
    return `throttle:login:${kind}:${parts.map(keyPart).join(':')}`;
  }

  /** Seconds until this (account, address) may try again; 0 when it may now. */
  private async waitLeft(email: string, place: string): Promise<number> {
    const until = await this.store.get<number>(this.key('wait', email, place));
    return until && until > Date.now() ? Math.ceil((until - Date.now()) / 1000) : 0;
  }

  /** Counts one attempt into a fixed window; true when failures (attempts less successes) exceed `limit`. */
  private async overLimit(kind: string, who: string, bucket: number, limit: number): Promise<boolean> {
    const tried = await this.store.increment(this.key(kind, who, bucket, 'tried'), this.limits.windowSeconds);
    const succeeded = (await this.store.get<number>(this.key(kind, who, bucket, 'ok'))) ?? 0;
    return tried - succeeded > limit;
  }

  private refused(reason: RefusedAttempt['reason'], retryAfter: number): RefusedAttempt {
    const wait = waitText(retryAfter);
    const message = {
      wait: `Too many failed sign-in attempts for this account. Try again in ${wait}.`,
      busy: `Another sign-in for this account is being checked. Try again in ${wait}.`,
      address: `Too many failed sign-in attempts from your network. Try again in ${wait}.`,
      account:
        'Too many failed sign-in attempts for this account from new places. ' + `Try again in ${wait}, or from where you usually sign in.`,
    }[reason];
    return { admitted: false, reason, retryAfter, message };
  }

  /** Decides, and counts, one password attempt before its password is checked. */
  async admit(rawEmail: string, ip: string): Promise<AdmittedAttempt | RefusedAttempt> {
    const email = rawEmail.toLowerCase();
    const place = placeOf(ip);
    const early = await this.waitLeft(email, place);
    if (early > 0) return this.refused('wait', early);
    const busyKey = this.key('busy', email, place);
    if (!(await this.store.setIfAbsent(busyKey, 1, BUSY_SECONDS))) return this.refused('busy', 1);
    try {
      // Holding the slot, nobody else can be between this check and the recorded outcome.
      const wait = await this.waitLeft(email, place);
      if (wait > 0) return await this.release(busyKey, this.refused('wait', wait));
      const windowMs = this.limits.windowSeconds * 1000;
      const bucket = Math.floor(Date.now() / windowMs);
      const windowLeft = Math.max(1, Math.ceil(((bucket + 1) * windowMs - Date.now()) / 1000));
      if (await this.overLimit('ip', place, bucket, this.limits.perIp))
        return await this.release(busyKey, this.refused('address', windowLeft));
      const known = (await this.store.get(this.key('known', email, place))) !== undefined;
      if (!known && (await this.overLimit('account', email, bucket, this.limits.perAccount))) {
        return await this.release(busyKey, this.refused('account', windowLeft));
      }
      const attempt = await this.store.increment(this.key('attempts', email, place), this.limits.windowSeconds);
      return { admitted: true, email, place, bucket, attempt, countedForAccount: !known };
    } catch (error) {
      await this.store.delete(busyKey).catch(() => {});
      throw error;
    }
  }

  private async release<T>(busyKey: string, result: T): Promise<T> {
    await this.store.delete(busyKey);
    return result;
  }

  /** The wait after `attempt` failures in a row. */
  delayAfter(attempt: number): number {
    const { freeAttempts, firstDelaySeconds, maxDelaySeconds } = this.limits;
    if (attempt < freeAttempts) return 0;
    return Math.min(maxDelaySeconds, firstDelaySeconds * 2 ** Math.min(attempt - freeAttempts, 30));
  }

  async recordFailure(attempt: AdmittedAttempt): Promise<void> {
    const delay = this.delayAfter(attempt.attempt);
    if (delay > 0) await this.store.set(this.key('wait', attempt.email, attempt.place), Date.now() + delay * 1000, delay);
    await this.store.delete(this.key('busy', attempt.email, attempt.place));
  }

  /** Resets this (account, address), gives back its counted attempts, and remembers the address. */
  async recordSuccess(attempt: AdmittedAttempt): Promise<void> {
    const { email, place, bucket } = attempt;
    const { windowSeconds } = this.limits;
    await Promise.all([
      this.store.delete(this.key('attempts', email, place)),
      this.store.delete(this.key('wait', email, place)),
      this.store.increment(this.key('ip', place, bucket, 'ok'), windowSeconds),
      attempt.countedForAccount ? this.store.increment(this.key('account', email, bucket, 'ok'), windowSeconds) : undefined,
      this.store.set(this.key('known', email, place), true, this.limits.knownAddressSeconds),
    ]);
    await this.store.delete(this.key('busy', email, place));
  }
}
