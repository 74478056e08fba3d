/**
 * The `WWW-Authenticate: Bearer` challenges of an MCP server (RFC 6750 §3, RFC 9728 §5.1): 401
 * when the token is missing or invalid, 403 `insufficient_scope` when a valid token lacks a scope
 * the operation needs. `scope` always names every scope the operation needs, not only the missing
 * ones, so a client that re-authorizes with it loses nothing it had.
 */
export interface BearerChallenge {
  status: 401 | 403;
  headers: { 'WWW-Authenticate': string };
  body: { error: string; error_description: string };
}

export interface ChallengeError {
  code: string;
  description: string;
}

/** A challenge for a missing (no error) or invalid token, pointing at the resource's metadata. */
export function bearerChallenge(resourceMetadataUrl: string, scopes: readonly string[], error?: ChallengeError): BearerChallenge {
  const parts = [`resource_metadata="${quotable(resourceMetadataUrl)}"`, `scope="${scopes.map(quotable).join(' ')}"`];
  if (error) parts.push(`error="${quotable(error.code)}"`, `error_description="${quotable(error.description)}"`);
  return {
    status: error?.code === 'insufficient_scope' ? 403 : 401,
    headers: { 'WWW-Authenticate': `Bearer ${parts.join(', ')}` },
    body: { error: error?.code ?? 'unauthorized', error_description: error?.description ?? 'a bearer token is required' },
  };
}

/** The 403 challenge when `granted` (a token's space-separated scope) lacks any of `required`; undefined when it has them all. */
export function insufficientScopeChallenge(
  resourceMetadataUrl: string,
  required: readonly string[],
  granted: string | undefined,
): BearerChallenge | undefined {
  const held = new Set(String(granted ?? '').split(' '));
  const missing = required.filter((scope) => !held.has(scope));
  if (missing.length === 0) return undefined;
  const description = `the token lacks the ${missing.join(' and ')} scope${missing.length > 1 ? 's' : ''}`;
  return bearerChallenge(resourceMetadataUrl, required, { code: 'insufficient_scope', description });
}

/** RFC 6750 auth-param values are quoted strings: no quote or backslash may break out of them. */
function quotable(value: string): string {
  return value.replace(/["\\]/g, '');
}
