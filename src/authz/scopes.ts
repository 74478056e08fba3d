/** The scope that grants use of an MCP server; every authorization includes it. */
export const MCP_SCOPE = 'mcp';
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;
export const SUPPORTED_SCOPES = [...OIDC_SCOPES, MCP_SCOPE];

/**
 * The scope an authorization request is processed with: what the client asked for that the
 * gateway knows, plus the MCP scope. A request without scope (ChatGPT reconnects that way) or
 * with only unknown scopes would otherwise end in "no scope was granted".
 */
export function effectiveScope(requested: string | undefined): string {
  const known = new Set((requested ?? '').split(' ').filter((scope) => SUPPORTED_SCOPES.includes(scope)));
  known.add(MCP_SCOPE);
  return [...known].join(' ');
}
