/**
 * How an MCP server's name becomes a URL, in one place: the config accepts only names that fit a
 * path segment, and every URL of a server (its endpoint, its resource indicator, its RFC 9728
 * metadata) is built here. In config/ because the config check is the lowest layer that needs it.
 */

/** Letters, digits, "-" and "_", 63 at most, not starting with a separator. */
export const SERVER_NAME_SOURCE = '[A-Za-z0-9][A-Za-z0-9_-]{0,62}';
export const SERVER_NAME = new RegExp(`^${SERVER_NAME_SOURCE}$`);

/** The path of a server's MCP endpoint: /mcp/<name>. */
export const mcpPath = (serverName: string): string => `/mcp/${serverName}`;

/** The server's MCP endpoint, which is also its RFC 8707 resource indicator (a token's audience). */
export const mcpResourceUrl = (publicUrl: string, serverName: string): string => `${publicUrl}${mcpPath(serverName)}`;

/** Where the server's RFC 9728 protected-resource metadata is served. */
export const protectedResourceMetadataUrl = (publicUrl: string, serverName: string): string =>
  `${publicUrl}/.well-known/oauth-protected-resource${mcpPath(serverName)}`;
