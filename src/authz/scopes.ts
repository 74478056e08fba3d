/** The scope that grants use of an MCP server; every authorization includes it. */
export const MCP_SCOPE = 'mcp';
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;
/** What the authorization server's metadata lists (`scopes_supported`), offline_access included. */
export const SUPPORTED_SCOPES = [...OIDC_SCOPES, MCP_SCOPE];
/**
 * What an MCP server's protected-resource metadata and its challenges name: the scopes a call
 * needs. offline_access asks the authorization server for a refresh token; no resource needs it.
 */
export const RESOURCE_SCOPES: readonly string[] = [MCP_SCOPE];

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
