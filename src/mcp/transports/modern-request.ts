// What a POST of the modern era (MCP 2026-07-28) must carry, checked before anything runs: the
// era of the request, its `_meta`, and the headers that mirror its body (Mcp-Method, Mcp-Name,
// Mcp-Param-*). Pure functions of the request; the transport decides what to do with the verdict.
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode, isRequest, type JsonRpcMessage, type JsonRpcRequest } from '../jsonrpc.js';
import { ALL_PROTOCOL_VERSIONS, META, MODERN_PROTOCOL_VERSIONS, SUPPORTED_PROTOCOL_VERSIONS } from '../protocol.js';
import { mcpError } from '../json-rpc-errors.js';
import type { ClientCapabilities } from '../core/session.js';

/** What a modern request says about itself in `_meta`. */
export interface ModernMeta {
  protocolVersion: string;
  clientCapabilities: ClientCapabilities;
  clientInfo?: unknown;
  logLevel?: string;
}

/** The methods whose `Mcp-Name` header mirrors `params.name` or `params.uri`. */
const NAMED_BY: Record<string, 'name' | 'uri'> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

const metaOf = (message: JsonRpcMessage | undefined): Record<string, unknown> | undefined => {
  const meta = message && 'method' in message ? message.params?._meta : undefined;
  return meta && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : undefined;
};

/**
 * Whether a POST belongs to the modern era: its message declares a protocol version in `_meta`,
 * or it names a revision that is not a session-based one and opens or names no session. Anything
 * else (initialize, an Mcp-Session-Id, a batch, a legacy MCP-Protocol-Version) is the legacy era.
 */
export function isModernPost(headers: IncomingHttpHeaders, messages: JsonRpcMessage[], batch: boolean): boolean {
  const [first] = messages;
  if (batch || !first) return false;
  if (metaOf(first)?.[META.protocolVersion] !== undefined) return true;
  const version = headers['mcp-protocol-version'];
  if (typeof version !== 'string' || SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return false;
  return !headers['mcp-session-id'] && !(isRequest(first) && first.method === 'initialize');
}

const headerMismatch = (message: string) => mcpError(400, `Header mismatch: ${message}`, ErrorCode.HeaderMismatch);

/** An Mcp-Name or Mcp-Param-* value as sent: plain visible ASCII, or the `=?base64?…?=` sentinel. */
export function decodeHeaderValue(name: string, value: string): string {
  const sentinel = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(value);
  if (sentinel) {
    // Strict base64: padded, and read back exactly as written (Node's decoder forgives too much).
    const bytes = Buffer.from(sentinel[1]!, 'base64');
    if (sentinel[1]!.length % 4 !== 0 || bytes.toString('base64') !== sentinel[1])
      throw headerMismatch(`the ${name} header is not valid base64 between =?base64? and ?=`);
    return bytes.toString('utf8');
  }
  if (!/^[\x20-\x7e\t]*$/.test(value) || value !== value.trim())
    throw headerMismatch(`the ${name} header has characters that must be base64-encoded (=?base64?…?=)`);
  return value;
}

/** The request's `_meta`, or the modern error that says what is missing or not spoken here. */
export function modernMetaOf(headers: IncomingHttpHeaders, request: JsonRpcRequest): ModernMeta {
  const meta = metaOf(request) ?? {};
  const inBody = meta[META.protocolVersion];
  const inHeader = headers['mcp-protocol-version'];
  if (typeof inHeader !== 'string') throw headerMismatch('the MCP-Protocol-Version header is required');
  if (inBody !== undefined && inBody !== inHeader)
    throw headerMismatch(`MCP-Protocol-Version header value '${inHeader}' does not match body value '${String(inBody)}'`);
  const requested = typeof inBody === 'string' ? inBody : inHeader;
  if (!MODERN_PROTOCOL_VERSIONS.includes(requested))
    throw mcpError(
      400,
      `Unsupported protocol version: ${requested} (supported: ${ALL_PROTOCOL_VERSIONS.join(', ')})`,
      ErrorCode.UnsupportedProtocolVersion,
      {
        data: { supported: [...ALL_PROTOCOL_VERSIONS], requested },
      },
    );
  if (inBody === undefined) throw mcpError(400, `Invalid params: _meta["${META.protocolVersion}"] is required`, ErrorCode.InvalidParams);
  const capabilities = meta[META.clientCapabilities];
  if (!capabilities || typeof capabilities !== 'object' || Array.isArray(capabilities))
    throw mcpError(400, `Invalid params: _meta["${META.clientCapabilities}"] is required (an object)`, ErrorCode.InvalidParams);
  const logLevel = meta[META.logLevel];
  return {
    protocolVersion: requested,
    clientCapabilities: capabilities as ClientCapabilities,
    clientInfo: meta[META.clientInfo],
    logLevel: typeof logLevel === 'string' ? logLevel : undefined,
  };
}

/** Mcp-Method always, Mcp-Name for calls that name something: both must say what the body says. */
export function checkStandardHeaders(headers: IncomingHttpHeaders, request: JsonRpcRequest): void {
  const method = headers['mcp-method'];
  if (typeof method !== 'string') throw headerMismatch('the Mcp-Method header is required');
  if (method !== request.method) throw headerMismatch(`Mcp-Method header value '${method}' does not match body value '${request.method}'`);
  const field = NAMED_BY[request.method];
  if (!field) return;
  const sent = headers['mcp-name'];
  if (typeof sent !== 'string') throw headerMismatch(`the Mcp-Name header is required for ${request.method}`);
  const name = decodeHeaderValue('Mcp-Name', sent);
  const inBody = request.params?.[field];
  if (name !== inBody) throw headerMismatch(`Mcp-Name header value '${name}' does not match body value '${String(inBody)}'`);
}

/** One tool parameter a server mirrors into a header: `Mcp-Param-<header>` carries arguments at `path`. */
export interface MirroredParameter {
  header: string;
  path: string[];
}

/** The parameters of a tool's inputSchema marked `x-mcp-header` (top-level and nested `properties`). */
export function mirroredParameters(inputSchema: unknown, path: string[] = []): MirroredParameter[] {
  const properties = (inputSchema as { properties?: unknown } | undefined)?.properties;
  if (!properties || typeof properties !== 'object') return [];
  const found: MirroredParameter[] = [];
  for (const [key, schema] of Object.entries(properties as Record<string, unknown>)) {
    const header = (schema as { 'x-mcp-header'?: unknown } | undefined)?.['x-mcp-header'];
    if (typeof header === 'string' && header) found.push({ header, path: [...path, key] });
    found.push(...mirroredParameters(schema, [...path, key]));
  }
  return found;
}

const valueAt = (value: unknown, path: string[]): unknown =>
  path.reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined), value);

const sameValue = (header: string, body: unknown): boolean => {
  if (typeof body === 'number') return header.trim() !== '' && Number(header) === body;
  if (typeof body === 'boolean') return header === String(body);
  return header === body;
};

/** Each mirrored parameter with a value in the call's arguments has its header, carrying that value. */
export function checkMirroredHeaders(headers: IncomingHttpHeaders, request: JsonRpcRequest, mirrored: MirroredParameter[]): void {
  const args = request.params?.arguments;
  for (const { header, path } of mirrored) {
    const name = `Mcp-Param-${header}`;
    const value = valueAt(args, path);
    const sent = headers[name.toLowerCase()];
    if (value === undefined || value === null) {
      if (sent !== undefined) throw headerMismatch(`${name} is sent but arguments.${path.join('.')} is absent`);
      continue;
    }
    if (typeof sent !== 'string') throw headerMismatch(`the ${name} header is required (arguments.${path.join('.')} is set)`);
    if (!sameValue(decodeHeaderValue(name, sent), value))
      throw headerMismatch(`${name} header value does not match body value arguments.${path.join('.')}`);
  }
}
