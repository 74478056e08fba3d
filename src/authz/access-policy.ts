import type { GatewayConfig } from '../config/schema.js';
import type { AccountRecord } from './accounts.js';

/**
 * Who may hold tokens. Checked at every login and again whenever a refresh token is used, so a
 * person removed from the configuration loses access at their next refresh.
 */
export class AccessPolicy {
  private readonly passwordUsers: Set<string>;
  private readonly allowEmails?: Set<string>;
  private readonly allowDomains?: Set<string>;

  constructor(config: Pick<GatewayConfig, 'login' | 'access'>) {
    this.passwordUsers = new Set((config.login.password?.users ?? []).map((user) => user.email));
    if (config.access.allowEmails) this.allowEmails = new Set(config.access.allowEmails);
    if (config.access.allowDomains) this.allowDomains = new Set(config.access.allowDomains);
  }

  private matchesAllowLists(email: string): boolean {
    if (!this.allowEmails && !this.allowDomains) return true;
    const domain = email.slice(email.lastIndexOf('@') + 1);
    return (this.allowEmails?.has(email) ?? false) || (this.allowDomains?.has(domain) ?? false);
  }

  allows(account: Pick<AccountRecord, 'email' | 'emailVerified' | 'provider'>): boolean {
    if (!account.emailVerified) return false;
    if (account.provider === 'password' && !this.passwordUsers.has(account.email)) return false;
    return this.matchesAllowLists(account.email);
  }
}
