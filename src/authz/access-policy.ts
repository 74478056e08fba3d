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
  private readonly factsMaxAgeMs: number;
  /** Bare group names are unambiguous only when one provider sends groups. */
  private readonly bareGroupNames: boolean;

  constructor(config: Pick<GatewayConfig, 'login' | 'access'>) {
    this.passwordUsers = new Set((config.login.password?.users ?? []).map((user) => user.email));
    this.allowEmails = toSet(config.access.allowEmails);
    this.allowDomains = toSet(config.access.allowDomains);
    this.allowGithubOrgs = toSet(config.access.allowGithubOrgs);
    this.allowGroups = config.access.allowGroups?.length ? new Set(config.access.allowGroups) : undefined;
    this.allowAnyone = config.access.allowAnyone;
    this.factsMaxAgeMs = config.access.signInAgainAfter * 1000;
    this.bareGroupNames = (config.login.oidc ?? []).filter((provider) => provider.groupsClaim).length <= 1;
  }

  /** Why the account is refused, or undefined when it is allowed. */
  refusal(account: Pick<AccountRecord, 'email' | 'emailVerified' | 'provider' | 'lastLogin'>): string | undefined {
    const login: LoginFacts & { at?: number } = account.lastLogin ?? { provider: account.provider };
    if (!account.emailVerified) return `the email address ${account.email} is not verified by the identity provider`;
    if (login.provider === 'password')
      return this.passwordUsers.has(account.email) ? undefined : `${account.email} is not an account of this gateway`;
    if (this.allowAnyone) return undefined;
    if (this.allowEmails?.has(account.email)) return undefined;
    const domain = login.provider === 'google' ? login.hd : account.email.slice(account.email.lastIndexOf('@') + 1);
    const byDomain = !!domain && !!this.allowDomains?.has(domain.toLowerCase());
    // "okta:staff" names a group of one provider; a bare "staff" is allowed only with a single groups provider.
    const byGroup = !!login.groups?.some(
      (group) => this.allowGroups?.has(`${login.provider}:${group}`) || (this.bareGroupNames && this.allowGroups?.has(group)),
    );
    const byOrg = !!login.githubOrgs?.some((org) => this.allowGithubOrgs?.has(org.toLowerCase()));
    if (!byDomain && !byGroup && !byOrg) return `${account.email} is not on this gateway's access list`;
    // Memberships are facts from the provider at sign-in; removal there shows only at the next
    // sign-in, so a connector that keeps refreshing must sign in again now and then.
    const fromProviderFacts = byGroup || byOrg || (byDomain && login.provider === 'google');
    if (fromProviderFacts && login.at !== undefined && Date.now() - login.at > this.factsMaxAgeMs) {
      return `the membership that lets ${account.email} in was last confirmed by the identity provider too long ago; sign in again`;
    }
    return undefined;
  }

  allows(account: Pick<AccountRecord, 'email' | 'emailVerified' | 'provider' | 'lastLogin'>): boolean {
    return this.refusal(account) === undefined;
  }
}
