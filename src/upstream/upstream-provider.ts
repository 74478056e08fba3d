/** What an identity provider told us about the person who signed in there. */
export interface UpstreamIdentity {
  provider: string;
  email: string;
  emailVerified: boolean;
  name?: string;
  /** Google Workspace domain. */
  hd?: string;
  groups?: string[];
  /** GitHub organizations and "org/team" slugs. */
  githubOrgs?: string[];
}

export interface UpstreamRequest {
  redirectUri: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** An identity provider the gateway sends people to: Google, GitHub or any OpenID provider. */
export interface UpstreamProvider {
  readonly id: string;
  readonly label: string;
  authorizationUrl(request: UpstreamRequest): Promise<URL>;
  /** Exchanges the callback's code (checking state, nonce and PKCE) and returns who signed in. */
  complete(callbackUrl: URL, request: UpstreamRequest): Promise<UpstreamIdentity>;
}

/** The provider answered, but not with someone the gateway can accept (e.g. no verified email). */
export class UpstreamRefusal extends Error {}
