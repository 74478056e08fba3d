/** The MCP protocol revisions the gateway speaks, newest first: one list for every part that names one. */

/** The newest session-based (legacy era) revision: what the gateway initializes its stdio servers with. */
export const LATEST_PROTOCOL_VERSION = '2025-11-25';
/** Legacy-era revisions: a client opens a session with initialize. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [LATEST_PROTOCOL_VERSION, '2025-06-18', '2025-03-26', '2024-11-05'];
/** Modern-era revisions: stateless, every request describes itself in `_meta`. */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];
/** Every revision, newest first: what server/discover and UnsupportedProtocolVersion list. */
export const ALL_PROTOCOL_VERSIONS: readonly string[] = [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS];

/** What the gateway calls itself when it initializes a server process. */
export const GATEWAY_CLIENT_INFO = { name: 'mcp-oauth-gateway', version: '0.1.0' };

/** The `_meta` keys of the modern era. */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/** The server/discover request the gateway sends as a modern client (an era probe, or a modern process's handshake). */
export function discoverRequest(id: string | number, capabilities: Record<string, unknown> = {}) {
  return {
    jsonrpc: '2.0' as const,
    id,
    method: 'server/discover',
    params: {
      _meta: {
        [META.protocolVersion]: MODERN_PROTOCOL_VERSIONS[0]!,
        [META.clientInfo]: GATEWAY_CLIENT_INFO,
        [META.clientCapabilities]: capabilities,
      },
    },
  };
}

/** Whether a server/discover answer lists a modern revision the gateway speaks. */
export function listsModernVersion(result: unknown): boolean {
  const versions = (result as { supportedVersions?: unknown } | undefined)?.supportedVersions;
  return Array.isArray(versions) && versions.some((version) => MODERN_PROTOCOL_VERSIONS.includes(version as string));
}
