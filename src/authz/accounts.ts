import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '../storage/store.js';

export interface AccountRecord {
  sub: string;
  email: string;
  emailVerified: boolean;
  name?: string;
  /** Login method that created the account, e.g. "password". */
  provider: string;
  createdAt: number;
}

/**
 * A stable subject per person: the first login with an email creates a random `sub`, and every
 * later login with the same email (by any method) maps to it, so tokens and consents survive
 * logging in again.
 */
export class AccountDirectory {
  constructor(private readonly store: KeyValueStore) {}

  private emailKey(email: string): string {
    return `account:email:${email.toLowerCase()}`;
  }

  private subKey(sub: string): string {
    return `account:sub:${sub}`;
  }

  async findOrCreate(email: string, details: { provider: string; emailVerified: boolean; name?: string }): Promise<AccountRecord> {
    const normalised = email.toLowerCase();
    const existingSub = await this.store.get<string>(this.emailKey(normalised));
    if (existingSub) {
      const existing = await this.store.get<AccountRecord>(this.subKey(existingSub));
      if (existing) return existing;
    }
    const record: AccountRecord = { sub: randomUUID(), email: normalised, createdAt: Date.now(), ...details };
    if (await this.store.setIfAbsent(this.emailKey(normalised), record.sub)) {
      await this.store.set(this.subKey(record.sub), record);
      return record;
    }
    // Another login created it a moment ago.
    return this.findOrCreate(email, details);
  }

  async findBySub(sub: string): Promise<AccountRecord | undefined> {
    return this.store.get<AccountRecord>(this.subKey(sub));
  }
}
