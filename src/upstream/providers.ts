import type { GatewayConfig } from '../config/schema.js';
import { GithubUpstream } from './github-upstream.js';
import { OidcUpstream } from './oidc-upstream.js';
import type { UpstreamProvider } from './upstream-provider.js';

/** The configured identity providers, in the order the login page lists them. */
export function configuredUpstreams(config: Pick<GatewayConfig, 'login' | 'access'>): Map<string, UpstreamProvider> {
  const providers = new Map<string, UpstreamProvider>();
  const { google, github, oidc } = config.login;
  if (google) {
    providers.set(
      'google',
      new OidcUpstream({
        id: 'google',
        label: google.label,
        issuer: google.issuer,
        clientId: google.clientId,
        clientSecret: google.clientSecret,
        scopes: ['openid', 'email', 'profile'],
        google: true,
      }),
    );
  }
  if (github) {
    providers.set('github', new GithubUpstream({ ...github, readOrgs: !!config.access.allowGithubOrgs?.length }));
  }
  for (const entry of oidc ?? []) providers.set(entry.id, new OidcUpstream(entry));
  return providers;
}

export function callbackUrl(publicUrl: string, providerId: string): string {
  return `${publicUrl}/login/${providerId}/callback`;
}
