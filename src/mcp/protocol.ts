/** The MCP protocol revisions the gateway speaks, newest first: one list for every part that names one. */
export const LATEST_PROTOCOL_VERSION = '2025-11-25';
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [LATEST_PROTOCOL_VERSION, '2025-06-18', '2025-03-26', '2024-11-05'];

/** What the gateway calls itself when it initializes a server process. */
export const GATEWAY_CLIENT_INFO = { name: 'mcp-oauth-gateway', version: '0.1.0' };
