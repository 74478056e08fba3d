/** Longest payload segment read: a token this large is not one the gateway issued. */
const MAX_PAYLOAD_CHARS = 8192;

/**
 * The claims of a JWT read WITHOUT checking its signature: for log lines only (who a refused or
 * logged token says it is), never to decide anything. Undefined when it is not a JWT.
 */
export function unverifiedJwtClaims(token: string | undefined): Record<string, unknown> | undefined {
  const payload = token?.split('.')[1];
  if (!payload || payload.length > MAX_PAYLOAD_CHARS) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
