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
export class AccessTokenVerifier {
  private readonly keys: ReturnType<typeof createLocalJWKSet>;

  constructor(private readonly issuer: string, jwks: JSONWebKeySet) {
    this.keys = createLocalJWKSet(jwks);
  }

  async verify(token: string, audience: string): Promise<VerifiedAccessToken> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['RS256'],
        clockTolerance: 30,
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id'],
      });
      if (Array.isArray(payload.aud) && payload.aud.length !== 1) throw new InvalidAccessToken('token is for several audiences');
      return payload as VerifiedAccessToken;
    } catch (error) {
      throw new InvalidAccessToken(error instanceof Error ? error.message : String(error));
    }
  }
}
