import type { IncomingMessage } from 'node:http';
import type { ResourceCatalog } from '../../authz/resources.js';
import { RESOURCE_SCOPES } from '../../authz/scopes.js';
import { protectedResourceMetadataUrl } from '../../config/server-names.js';
import { bearerChallenge, insufficientScopeChallenge, type BearerChallenge, type ChallengeError } from './challenge.js';
import { AccessTokenVerifier, InvalidAccessToken, type VerifiedAccessToken } from './token-verifier.js';

export type AuthOutcome = { ok: true; token: VerifiedAccessToken } | ({ ok: false } & BearerChallenge);

const BEARER = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

/** The bearer check in front of every /mcp/<name> request, with the RFC 6750/9728 challenge. */
export class BearerAuth {
  constructor(
    private readonly publicUrl: string,
    private readonly resources: ResourceCatalog,
    private readonly verifier: AccessTokenVerifier,
  ) {}

  private challenge(serverName: string, error?: ChallengeError): Extract<AuthOutcome, { ok: false }> {
    return { ok: false, ...bearerChallenge(protectedResourceMetadataUrl(this.publicUrl, serverName), RESOURCE_SCOPES, error) };
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
    return this.challenge(serverName, { code: 'invalid_token', description: 'the access token has expired' });
  }

  /** Every MCP call needs the resource's scopes (today: mcp); the gateway's own tokens always carry them. */
  private checkScope(token: VerifiedAccessToken, serverName: string): AuthOutcome {
    const metadataUrl = protectedResourceMetadataUrl(this.publicUrl, serverName);
    const refusal = insufficientScopeChallenge(metadataUrl, RESOURCE_SCOPES, token.scope);
    return refusal ? { ok: false, ...refusal } : { ok: true, token };
  }
}
