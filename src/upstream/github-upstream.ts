import * as client from 'openid-client';
import { isLoopbackHttp } from '../net/loopback.js';
import { UpstreamRefusal, type UpstreamIdentity, type UpstreamProvider, type UpstreamRequest } from './upstream-provider.js';

export interface GithubUpstreamOptions {
  clientId: string;
  clientSecret: string;
  label: string;
  webUrl: string;
  apiUrl: string;
  /** Read organization and team membership (needs the read:org scope). */
  readOrgs: boolean;
}

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}
interface GithubTeam {
  slug: string;
  organization: { login: string };
}

/** GitHub's OAuth apps (not OIDC): the verified primary email and memberships come from its API. */
export class GithubUpstream implements UpstreamProvider {
  readonly id = 'github';
  private readonly configuration: client.Configuration;

  constructor(private readonly options: GithubUpstreamOptions) {
    const web = options.webUrl.replace(/\/$/, '');
    this.configuration = new client.Configuration(
      { issuer: web, authorization_endpoint: `${web}/login/oauth/authorize`, token_endpoint: `${web}/login/oauth/access_token` },
      options.clientId,
      options.clientSecret,
    );
    if (isLoopbackHttp(web)) client.allowInsecureRequests(this.configuration);
  }

  get label(): string {
    return this.options.label;
  }

  async authorizationUrl(request: UpstreamRequest): Promise<URL> {
    return client.buildAuthorizationUrl(this.configuration, {
      redirect_uri: request.redirectUri,
      scope: this.options.readOrgs ? 'read:user user:email read:org' : 'read:user user:email',
      state: request.state,
      code_challenge: await client.calculatePKCECodeChallenge(request.codeVerifier),
      code_challenge_method: 'S256',
      allow_signup: 'false',
    });
  }

  private async api<T>(token: string, path: string): Promise<T> {
    const response = await fetch(`${this.options.apiUrl.replace(/\/$/, '')}${path}`, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.github+json',
        'user-agent': 'mcp-oauth-gateway',
        'x-github-api-version': '2022-11-28',
      },
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`GitHub API ${path} answered HTTP ${response.status}`);
    return (await response.json()) as T;
  }

  /** A list endpoint, all pages (GitHub sends 30 items unless asked for up to 100). */
  private async apiList<T>(token: string, path: string): Promise<T[]> {
    const items: T[] = [];
    for (let page = 1; page <= 10; page++) {
      const batch = await this.api<T[]>(token, `${path}?per_page=100&page=${page}`);
      items.push(...batch);
      if (batch.length < 100) break;
    }
    return items;
  }

  async complete(callbackUrl: URL, request: UpstreamRequest): Promise<UpstreamIdentity> {
    const tokens = await client.authorizationCodeGrant(this.configuration, callbackUrl, {
      pkceCodeVerifier: request.codeVerifier,
      expectedState: request.state,
    });
    const token = tokens.access_token;
    const [user, emails] = await Promise.all([
      this.api<{ login: string; name?: string | null }>(token, '/user'),
      this.api<GithubEmail[]>(token, '/user/emails'),
    ]);
    const primary = emails.find((e) => e.primary && e.verified);
    if (!primary) throw new UpstreamRefusal('your GitHub account has no verified primary email address');
    let githubOrgs: string[] | undefined;
    if (this.options.readOrgs) {
      const [orgs, teams] = await Promise.all([
        this.apiList<{ login: string }>(token, '/user/orgs'),
        this.apiList<GithubTeam>(token, '/user/teams'),
      ]);
      githubOrgs = [...orgs.map((o) => o.login), ...teams.map((t) => `${t.organization.login}/${t.slug}`)];
    }
    return { provider: 'github', email: primary.email.toLowerCase(), emailVerified: true, name: user.name ?? user.login, githubOrgs };
  }
}
