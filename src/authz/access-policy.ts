import type { GatewayConfig } from '../config/schema.js';
import type { AccountRecord, LoginFacts } from './accounts.js';

const toSet = (values: string[] | undefined) => (values?.length ? new Set(values.map((v) => v.toLowerCase())) : undefined);

/**
 * Who may hold tokens. Checked at every login and again whenever a refresh token is used, so a
 * person removed from the configuration loses access at their next refresh.
 *
 * - Password accounts are allowed while they are listed in login.password.users.
 * - Accounts from Google, GitHub or OIDC need a verified email and must match a rule in
 *   `access` (or `allowAnyone`): an email, a domain (for Google: the Workspace `hd` claim, not the
 *   address), a GitHub organization or team, or a group from the provider's groups claim.
 */
export class AccessPolicy {
  private readonly passwordUsers: Set<string>;
  private readonly allowEmails?: Set<string>;
  private readonly allowDomains?: Set<string>;
  private readonly allowGithubOrgs?: Set<string>;
  private readonly allowGroups?: Set<string>;
  private readonly allowAnyone: boolean;

  constructor(config: Pick<GatewayConfig, 'login' | 'access'>) {
    this.passwordUsers = new Set((config.login.password?.users ?? []).map((user) => user.email));
    this.allowEmails = toSet(config.access.allowEmails);
    this.allowDomains = toSet(config.access.allowDomains);
    this.allowGithubOrgs = toSet(config.access.allowGithubOrgs);
    this.allowGroups = config.access.allowGroups?.length ? new Set(config.access.allowGroups) : undefined;
    this.allowAnyone = config.access.allowAnyone;
  }

  /** Why the account is refused, or undefined when it is allowed. */
  refusal(account: Pick<AccountRecord, 'email' | 'emailVerified' | 'provider' | 'lastLogin'>): string | undefined {
    const login: LoginFacts = account.lastLogin ?? { provider: account.provider };
    if (!account.emailVerified) return `the email address ${account.email} is not verified by the identity provider`;
    if (login.provider === 'password') return this.passwordUsers.has(account.email) ? undefined : `${account.email} is not an account of this gateway`;
    if (this.allowAnyone) return undefined;
    if (this.allowEmails?.has(account.email)) return undefined;
    const domain = login.provider === 'google' ? login.hd : account.email.slice(account.email.lastIndexOf('@') + 1);
    if (domain && this.allowDomains?.has(domain.toLowerCase())) return undefined;
    if (login.groups?.some((group) => this.allowGroups?.has(group))) return undefined;
    if (login.githubOrgs?.some((org) => this.allowGithubOrgs?.has(org.toLowerCase()))) return undefined;
    return `${account.email} is not on this gateway's access list`;
  }

  allows(account: Pick<AccountRecord, 'email' | 'emailVerified' | 'provider' | 'lastLogin'>): boolean {
    return this.refusal(account) === undefined;
  }
}
