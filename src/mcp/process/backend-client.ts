import { GATEWAY_CLIENT_INFO } from '../protocol.js';

/** The MCP Apps extension (SEP-1865): a client that declares it renders the `ui://` resources tools name. */
export const MCP_APPS_EXTENSION = 'io.modelcontextprotocol/ui';
export const MCP_APP_MIME_TYPE = 'text/html;profile=mcp-app';

/**
 * What the gateway declares as the client of a shared or per-user process unless the server's
 * `clientCapabilities` says otherwise: what it relays to its sessions (sampling, elicitation,
 * roots) and the MCP Apps extension, since ChatGPT and Claude.ai render MCP Apps and a server
 * that offers UI only to clients declaring it would otherwise never offer it.
 */
export const GATEWAY_CLIENT_CAPABILITIES: Readonly<Record<string, object>> = Object.freeze({
  sampling: {},
  elicitation: {},
  roots: { listChanged: true },
  extensions: { [MCP_APPS_EXTENSION]: { mimeTypes: [MCP_APP_MIME_TYPE] } },
});

/** Who the backend process believes its client is: the `capabilities` and `clientInfo` of its initialize. */
export interface BackendClient {
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
}

/** What a client said about itself in its initialize request (its params, unchecked). */
export interface OpeningClient {
  capabilities?: unknown;
  clientInfo?: unknown;
}

/** The parts of a stdio server's config that decide how its processes are initialized. */
export interface BackendClientSpec {
  isolation: 'shared' | 'per-user' | 'per-session';
  clientCapabilities?: Record<string, unknown>;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A clientInfo the backend will accept: an object with a string name and version. */
const isImplementation = (value: unknown): value is Record<string, unknown> =>
  isPlainObject(value) && typeof value.name === 'string' && typeof value.version === 'string';

/**
 * What a backend process is initialized with. A per-session process belongs to one client and is
 * initialized as that client (its own capabilities, extensions and clientInfo, untouched); a shared
 * or per-user process serves several clients and is initialized with the gateway's declared set
 * (the server's `clientCapabilities`, or GATEWAY_CLIENT_CAPABILITIES). `opener` is the client whose
 * session starts a per-session process. A modern (2026-07-28) request carries its own capability
 * set in its `_meta`, which reaches the process with the request; to initialize a process with
 * such a set, give it as the opener.
 */
export function backendClientFor(spec: BackendClientSpec, opener?: OpeningClient): BackendClient {
  if (spec.isolation === 'per-session' && opener) {
    return {
      // A malformed part is replaced, not passed on: the backend would refuse the whole initialize.
      capabilities: isPlainObject(opener.capabilities) ? opener.capabilities : {},
      clientInfo: isImplementation(opener.clientInfo) ? opener.clientInfo : { ...GATEWAY_CLIENT_INFO },
    };
  }
  return {
    capabilities: structuredClone(spec.clientCapabilities ?? GATEWAY_CLIENT_CAPABILITIES) as Record<string, unknown>,
    clientInfo: { ...GATEWAY_CLIENT_INFO },
  };
}
