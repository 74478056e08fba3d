import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessPolicy } from '../../src/authz/access-policy.js';

type PolicyConfig = ConstructorParameters<typeof AccessPolicy>[0];

const policy = (access: Record<string, unknown>, oidcGroupProviders = 1): AccessPolicy =>
  new AccessPolicy({
    login: {
      password: { users: [{ email: 'pat@example.com', passwordHash: 'scrypt$x' }] },
      oidc: Array.from({ length: oidcGroupProviders }, (_, i) => ({ id: `idp${i}`, groupsClaim: 'groups' })),
    },
    access: { allowAnyone: false, signInAgainAfter: 7 * 24 * 3600, ...access },
  } as unknown as PolicyConfig);

const account = (email: string, lastLogin: Record<string, unknown>, emailVerified = true) => ({
  email,
  emailVerified,
  provider: String(lastLogin.provider),
  lastLogin: lastLogin as never,
});

describe('access policy', () => {
  it('lets password users in while they are listed, and nobody else by password', () => {
    const rules = policy({});
    assert.equal(rules.refusal(account('pat@example.com', { provider: 'password' })), undefined);
    assert.match(rules.refusal(account('eve@example.com', { provider: 'password' })) ?? '', /not an account of this gateway/);
  });

  it('refuses an unverified email whatever the rules say', () => {
    assert.match(policy({ allowAnyone: true }).refusal(account('a@example.com', { provider: 'okta' }, false)) ?? '', /not verified/);
  });

  it('matches a Google account by its Workspace domain (hd), never by the address alone', () => {
    const rules = policy({ allowDomains: ['Example.com'] });
    assert.ok(rules.allows(account('ann@example.com', { provider: 'google', hd: 'example.com' })));
    assert.ok(!rules.allows(account('ann@example.com', { provider: 'google' })), 'a personal Google account with that address');
    assert.ok(rules.allows(account('ann@example.com', { provider: 'okta' })), 'other providers: the address domain');
  });

  it('reads bare group names only when one provider sends groups; "<provider>:<group>" always', () => {
    assert.ok(policy({ allowGroups: ['staff'] }).allows(account('g@x.org', { provider: 'idp0', groups: ['staff'] })));
    const two = policy({ allowGroups: ['staff', 'idp1:ops'] }, 2);
    assert.ok(!two.allows(account('g@x.org', { provider: 'idp0', groups: ['staff'] })), 'ambiguous bare name');
    assert.ok(two.allows(account('g@x.org', { provider: 'idp1', groups: ['ops'] })));
    assert.ok(!two.allows(account('g@x.org', { provider: 'idp0', groups: ['ops'] })), 'same group name at another provider');
  });

  it('matches GitHub organizations and teams case-insensitively', () => {
    const rules = policy({ allowGithubOrgs: ['Acme/platform'] });
    assert.ok(rules.allows(account('o@x.org', { provider: 'github', githubOrgs: ['acme', 'acme/PLATFORM'] })));
    assert.ok(!rules.allows(account('o@x.org', { provider: 'github', githubOrgs: ['acme'] })));
  });

  it('asks for a new sign-in once a membership is older than signInAgainAfter; email rules never expire', () => {
    const rules = policy({ allowGroups: ['staff'], allowEmails: ['e@x.org'], signInAgainAfter: 60 });
    const longAgo = Date.now() - 120_000;
    assert.match(rules.refusal(account('g@x.org', { provider: 'idp0', groups: ['staff'], at: longAgo })) ?? '', /too long ago/);
    assert.ok(rules.allows(account('g@x.org', { provider: 'idp0', groups: ['staff'], at: Date.now() })));
    assert.ok(rules.allows(account('e@x.org', { provider: 'idp0', at: longAgo })));
  });
});
