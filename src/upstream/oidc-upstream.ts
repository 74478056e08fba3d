import * as client from 'openid-client';
import { isLoopbackHttp } from '../net/loopback.js';
import { absentIdentityClaims, withUserInfoClaims, type Claims } from './oidc-claims.js';
import { UpstreamRefusal, type UpstreamIdentity, type UpstreamProvider, type UpstreamRequest } from './upstream-provider.js';

export interface OidcUpstreamOptions {
  id: string;
  label: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  groupsClaim?: string;
  /** Google: read the Workspace domain from `hd` and let the person pick an account. */
  google?: boolean;
}

function stringList(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[,\s]+/).filter(Boolean);
  return undefined;
}

/** Login through any OpenID provider (discovery, code + PKCE + state + nonce, ID token checks). */
export class OidcUpstream implements UpstreamProvider {
  private configuration?: Promise<client.Configuration>;

  constructor(private readonly options: OidcUpstreamOptions) {}

  get id(): string {
    return this.options.id;
  }

  get label(): string {
    return this.options.label;
  }

  /** Discovery runs on first use and again after a failure, so a provider that was down recovers. */
  private config(): Promise<client.Configuration> {
    this.configuration ??= client
      .discovery(
        new URL(this.options.issuer),
        this.options.clientId,
        this.options.clientSecret,
        undefined,
        isLoopbackHttp(this.options.issuer) ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw error;
      });
    return this.configuration;
  }

  async authorizationUrl(request: UpstreamRequest): Promise<URL> {
    return client.buildAuthorizationUrl(await this.config(), {
      redirect_uri: request.redirectUri,
      scope: this.options.scopes.join(' '),
      state: request.state,
      nonce: request.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(request.codeVerifier),
      code_challenge_method: 'S256',
      // Lets people with several Google accounts pick one (a Google-only prompt value).
      ...(this.options.google && new URL(this.options.issuer).host === 'accounts.google.com' ? { prompt: 'select_account' } : {}),
    });
  }

  async complete(callbackUrl: URL, request: UpstreamRequest): Promise<UpstreamIdentity> {
    const tokens = await client.authorizationCodeGrant(await this.config(), callbackUrl, {
      pkceCodeVerifier: request.codeVerifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
      idTokenExpected: true,
    });
    const idTokenClaims = tokens.claims();
    if (!idTokenClaims) throw new UpstreamRefusal(`${this.label} returned no ID token`);
    const claims = await this.withUserInfo(idTokenClaims, tokens.access_token);
    const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : undefined;
    if (!email) throw new UpstreamRefusal(`${this.label} did not share an email address (ask for the "email" scope)`);
    return {
      provider: this.id,
      email,
      emailVerified: claims.email_verified === true || claims.email_verified === 'true',
      name: typeof claims.name === 'string' ? claims.name : undefined,
      hd: this.options.google && typeof claims.hd === 'string' ? claims.hd.toLowerCase() : undefined,
      groups: this.options.groupsClaim ? stringList(claims[this.options.groupsClaim]) : undefined,
    };
  }

  /**
   * Fills in email, email_verified and the groups claim from UserInfo when the ID token left them
   * out. openid-client refuses an answer whose `sub` is not the ID token's (a UserInfo response
   * about someone else must never name who signed in).
   */
  private async withUserInfo(idTokenClaims: Claims & { sub: string }, accessToken: string): Promise<Claims> {
    const config = await this.config();
    if (absentIdentityClaims(idTokenClaims, this.options.groupsClaim).length === 0) return idTokenClaims;
    if (!config.serverMetadata().userinfo_endpoint) return idTokenClaims;
    const userInfo = await client.fetchUserInfo(config, accessToken, idTokenClaims.sub);
    return withUserInfoClaims(idTokenClaims, userInfo, this.options.groupsClaim);
  }
}
