import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';

export interface VerifiedAccessToken extends JWTPayload {
  sub: string;
  client_id: string;
  scope?: string;
}

export class InvalidAccessToken extends Error {}

/**
 * Validates the gateway's own JWT access tokens in memory against its published keys: signature,
 * `typ: at+jwt`, exact issuer and audience, expiry with a small skew, RS256 only (no `none`, no HMAC).
 */
const CACHE_LIMIT = 10_000;
const CLOCK_TOLERANCE_S = 30;

export class AccessTokenVerifier {
  private readonly keys: ReturnType<typeof createLocalJWKSet>;
  /** Verified tokens by audience and value: a connector presents the same token for an hour. */
  private readonly verified = new Map<string, VerifiedAccessToken>();

  constructor(
    private readonly issuer: string,
    jwks: JSONWebKeySet,
  ) {
    this.keys = createLocalJWKSet(jwks);
  }

  /** A token verified earlier and not expired since, without any async work (the hot path). */
  alreadyVerified(token: string, audience: string): VerifiedAccessToken | undefined {
    const cacheKey = `${audience} ${token}`;
    const cached = this.verified.get(cacheKey);
    if (!cached) return undefined;
    if (cached.exp! + CLOCK_TOLERANCE_S > Date.now() / 1000) return cached;
    this.verified.delete(cacheKey);
    return undefined;
  }

  async verify(token: string, audience: string): Promise<VerifiedAccessToken> {
    const cached = this.alreadyVerified(token, audience);
    if (cached) return cached;
    const cacheKey = `${audience} ${token}`;
    const payload = await this.verifySignatureAndClaims(token, audience);
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(cacheKey, payload);
    return payload;
  }

  private async verifySignatureAndClaims(token: string, audience: string): Promise<VerifiedAccessToken> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['RS256'],
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id'],
      });
      if (Array.isArray(payload.aud) && payload.aud.length !== 1) throw new InvalidAccessToken('token is for several audiences');
      return payload as VerifiedAccessToken;
    } catch (error) {
      throw new InvalidAccessToken(error instanceof Error ? error.message : String(error));
    }
  }
}
