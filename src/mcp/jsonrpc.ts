/** JSON-RPC 2.0 shapes as MCP uses them, and the few helpers the bridge needs. */
export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  result?: unknown;
  error?: JsonRpcError;
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP: the request timed out or its session ended before an answer, as the SDK uses it. */
  RequestTimeout: -32001,
  /**
   * The Mcp-Session-Id names no session of this caller (HTTP 404). MCP defines no code for it; the
   * SDK's own server answers -32001 there too, so clients see the same code from the gateway.
   */
  SessionNotFound: -32001,
  // The gateway's own codes lie outside -32768..-32000: MCP 2026-07-28 reserves -32020..-32099
  // for codes the specification defines, and -32002 meant "resource not found" before it.
  /** The server's process could not start, or the gateway is shutting down. */
  ServerUnavailable: -31002,
  /** The process does not read its input, or holds too many calls. */
  ServerBusy: -31003,
  /** The gateway's per-person request limit (rateLimits.mcp); HTTP 429 with Retry-After. */
  RateLimited: -31029,
  /** A cap on sessions or processes (limits.*) left no room for a new session. */
  LimitReached: -31030,
  /** The caller has not set a secret the server needs; the message gives the account page link. */
  SecretMissing: -31040,
  /** MCP 2026-07-28: the HTTP headers do not match the body, or a required one is missing. */
  HeaderMismatch: -32020,
  /** MCP 2026-07-28: the request needs a client capability it did not declare. */
  MissingRequiredClientCapability: -32021,
  /** MCP 2026-07-28: the request's protocol version is not one the gateway speaks. */
  UnsupportedProtocolVersion: -32022,
} as const;

/** A new session would pass a cap (limits.*) and nothing idle could make room: the message says which. */
export class LimitReached extends Error {}

const isId = (value: unknown): value is JsonRpcId => typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));

export function isRequest(message: JsonRpcMessage): message is JsonRpcRequest {
  return 'method' in message && 'id' in message && message.id !== undefined;
}

export function isNotification(message: JsonRpcMessage): message is JsonRpcNotification {
  return 'method' in message && !('id' in message && message.id !== undefined);
}

export function isResponse(message: JsonRpcMessage): message is JsonRpcResponse {
  return !('method' in message) && ('result' in message || 'error' in message);
}

/** True when `value` is a well-formed JSON-RPC 2.0 message (request, notification or response). */
export function isJsonRpcMessage(value: unknown): value is JsonRpcMessage {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const message = value as Record<string, unknown>;
  if (message.jsonrpc !== '2.0') return false;
  if ('method' in message) {
    if (typeof message.method !== 'string') return false;
    if ('id' in message && message.id !== undefined && !isId(message.id)) return false;
    if ('params' in message && message.params !== undefined && (typeof message.params !== 'object' || message.params === null))
      return false;
    return true;
  }
  if (!('id' in message) || !(isId(message.id) || message.id === null)) return false;
  return 'result' in message !== 'error' in message;
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

export type ProgressToken = string | number;

export function progressTokenOf(request: JsonRpcRequest): ProgressToken | undefined {
  const meta = request.params?._meta as { progressToken?: unknown } | undefined;
  const token = meta?.progressToken;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
}

/** Copies a request with its `_meta.progressToken` replaced. */
export function withProgressToken(request: JsonRpcRequest, token: string): JsonRpcRequest {
  const params = request.params ?? {};
  return { ...request, params: { ...params, _meta: { ...(params._meta as object), progressToken: token } } };
}
