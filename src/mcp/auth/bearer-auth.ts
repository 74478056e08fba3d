import type { IncomingMessage } from 'node:http';
import type { ResourceCatalog } from '../../authz/resources.js';
import { MCP_SCOPE } from '../../authz/scopes.js';
import { protectedResourceMetadataUrl } from '../../config/server-names.js';
import { AccessTokenVerifier, InvalidAccessToken, type VerifiedAccessToken } from './token-verifier.js';

export type AuthOutcome =
  | { ok: true; token: VerifiedAccessToken }
  | { ok: false; status: 401; headers: Record<string, string>; body: { error: string; error_description: string } };

const BEARER = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

/** The bearer check in front of every /mcp/<name> request, with the RFC 6750/9728 challenge. */
export class BearerAuth {
  constructor(
    private readonly publicUrl: string,
    private readonly resources: ResourceCatalog,
    private readonly verifier: AccessTokenVerifier,
  ) {}

  private challenge(serverName: string, error?: { code: string; description: string }): AuthOutcome {
    const parts = [`resource_metadata="${protectedResourceMetadataUrl(this.publicUrl, serverName)}"`, `scope="${MCP_SCOPE}"`];
    if (error) parts.push(`error="${error.code}"`, `error_description="${error.description.replace(/["\\]/g, '')}"`);
    return {
      ok: false,
      status: 401,
      headers: { 'WWW-Authenticate': `Bearer ${parts.join(', ')}` },
      body: { error: error?.code ?? 'unauthorized', error_description: error?.description ?? 'a bearer token is required' },
    };
  }

  /** Synchronous for a token seen before (every call after a session's first), async otherwise. */
  authenticate(req: IncomingMessage, serverName: string): AuthOutcome | Promise<AuthOutcome> {
    const match = BEARER.exec(req.headers.authorization ?? '');
    if (!match) return this.challenge(serverName);
    const audience = this.resources.urlFor(serverName);
    const known = this.verifier.alreadyVerified(match[1]!, audience);
    if (known) return this.checkScope(known, serverName);
    return this.verifier.verify(match[1]!, audience).then(
      (token) => this.checkScope(token, serverName),
      (error: unknown) =>
        this.challenge(serverName, {
          code: 'invalid_token',
          description: error instanceof InvalidAccessToken ? error.message : 'invalid token',
        }),
    );
  }

  /** The challenge for a token past its expiry (still inside the verifier's clock tolerance). */
  expired(serverName: string): Extract<AuthOutcome, { ok: false }> {
    return this.challenge(serverName, { code: 'invalid_token', description: 'the access token has expired' }) as Extract<
      AuthOutcome,
      { ok: false }
    >;
  }

  private checkScope(token: VerifiedAccessToken, serverName: string): AuthOutcome {
    if (
      !String(token.scope ?? '')
        .split(' ')
        .includes(MCP_SCOPE)
    ) {
      return this.challenge(serverName, { code: 'insufficient_scope', description: `the token lacks the ${MCP_SCOPE} scope` });
    }
    return { ok: true, token };
  }
}
