import type { ServerResponse } from 'node:http';
import { GatewayError } from '../web/errors.js';
import { ErrorCode, errorResponse, type JsonRpcId } from './jsonrpc.js';

/** The machine-readable name of each status the MCP transport answers with (GatewayError.error). */
const ERROR_NAMES: Record<number, string> = {
  400: 'invalid_request',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
};

/** A refused MCP request as the gateway's one error type: HTTP `status`, and the JSON-RPC code of its body. */
export function mcpError(
  status: number,
  message: string,
  jsonRpcCode: number = ErrorCode.InvalidRequest,
  options: { headers?: Record<string, string>; data?: Record<string, unknown> } = {},
): GatewayError {
  return new GatewayError(status, ERROR_NAMES[status] ?? 'invalid_request', message, { jsonRpcCode, ...options });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The JSON-RPC rendering of a GatewayError: its status, its headers, and an error body a client can read. */
export function sendJsonRpcError(
  res: ServerResponse,
  error: GatewayError,
  headers: Record<string, string> = {},
  id: JsonRpcId | null = null,
): void {
  sendJson(res, error.status, errorResponse(id, error.jsonRpcCode, error.publicMessage, error.data), { ...headers, ...error.headers });
}
