import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '../storage/store.js';

/** What the last login said about the person; access rules are checked against it on every refresh. */
export interface LoginFacts {
  /** "password", "google", "github" or the id of a login.oidc entry. */
  provider: string;
  /** Google Workspace domain (the `hd` claim). */
  hd?: string;
  groups?: string[];
  /** GitHub organizations ("acme") and teams ("acme/platform"). */
  githubOrgs?: string[];
}

export interface AccountRecord {
  sub: string;
  email: string;
  emailVerified: boolean;
  name?: string;
  /** Login method that created the account. */
  provider: string;
  createdAt: number;
  lastLogin?: LoginFacts & { at: number };
}

/**
 * A stable subject per person: the first login with a (verified) email creates a random `sub`,
 * and every later login with the same email, by any method, maps to it, so tokens and consents
 * survive logging in again and switching between Google and password.
 */
export class AccountDirectory {
  constructor(private readonly store: KeyValueStore) {}

  private emailKey(email: string): string {
    return `account:email:${email.toLowerCase()}`;
  }

  private subKey(sub: string): string {
    return `account:sub:${sub}`;
  }

  /** Finds or creates the person's account and records what this login said about them. */
  async recordLogin(email: string, details: { emailVerified: boolean; name?: string; facts: LoginFacts }): Promise<AccountRecord> {
    const normalised = email.toLowerCase();
    for (let attempt = 0; ; attempt++) {
      const indexedSub = await this.store.get<string>(this.emailKey(normalised));
      const existing = indexedSub ? await this.findBySub(indexedSub) : undefined;
      // An index entry without its record (a crash between the two writes) keeps its subject.
      const base: AccountRecord = existing ?? {
        sub: indexedSub ?? randomUUID(),
        email: normalised,
        provider: details.facts.provider,
        createdAt: Date.now(),
        emailVerified: details.emailVerified,
      };
      const record: AccountRecord = {
        ...base,
        emailVerified: details.emailVerified,
        name: details.name ?? base.name,
        lastLogin: { ...details.facts, at: Date.now() },
      };
      if (!indexedSub && !(await this.store.setIfAbsent(this.emailKey(normalised), record.sub))) {
        // Another login created it a moment ago: read it again.
        if (attempt < 3) continue;
        throw new Error(`could not create the account for ${normalised}`);
      }
      await this.store.set(this.subKey(record.sub), record);
      return record;
    }
  }

  /**
   * The subject of the person with this email. With `reserve`, a person who has not signed in yet
   * gets their subject now (their first login keeps it), so an operator can prepare their secrets.
   */
  async subOfEmail(email: string, reserve = false): Promise<string | undefined> {
    const key = this.emailKey(email);
    const existing = await this.store.get<string>(key);
    if (existing || !reserve) return existing;
    await this.store.setIfAbsent(key, randomUUID());
    return this.store.get<string>(key);
  }

  async findBySub(sub: string): Promise<AccountRecord | undefined> {
    return this.store.get<AccountRecord>(this.subKey(sub));
  }
}
