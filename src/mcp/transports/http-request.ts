import type { IncomingMessage } from 'node:http';
import { ErrorCode, isJsonRpcMessage, isRequest, type JsonRpcMessage, type JsonRpcRequest } from '../jsonrpc.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../protocol.js';
import { mcpError } from '../json-rpc-errors.js';
import { unverifiedJwtClaims } from '../../lib/unverified-jwt.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** A POST's JSON-RPC messages, and its raw body (forwarded as is to a remote server). */
export interface PostedMessages {
  messages: JsonRpcMessage[];
  batch: boolean;
  body: Buffer;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => mcpError(413, `the request body is larger than ${limit} bytes`);
  if (Number(req.headers['content-length']) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(tooLarge());
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function accepts(req: IncomingMessage, type: string): boolean {
  const accept = req.headers.accept;
  return !accept || accept.includes(type) || accept.includes('*/*');
}

/** The JSON-RPC messages of a POST, or the GatewayError that says what is wrong with it. */
export async function parseMessages(req: IncomingMessage): Promise<PostedMessages> {
  if (!accepts(req, 'application/json') && !accepts(req, 'text/event-stream'))
    throw mcpError(406, 'Not Acceptable: accept application/json and text/event-stream');
  const type = req.headers['content-type'] ?? '';
  if (!type.includes('application/json')) throw mcpError(415, 'Unsupported Media Type: send application/json');
  const body = await readBody(req, MAX_BODY_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw mcpError(400, 'Parse error: the body is not valid JSON', ErrorCode.ParseError);
  }
  const batch = Array.isArray(parsed);
  const messages = batch ? (parsed as unknown[]) : [parsed];
  if (messages.length === 0 || !messages.every(isJsonRpcMessage)) throw mcpError(400, 'Invalid Request: not a JSON-RPC 2.0 message');
  return { messages: messages as JsonRpcMessage[], batch, body };
}

/** The initialize request of a POST that opens a session (no session id yet), if it is one. */
export function initializeRequest(req: IncomingMessage, posted: PostedMessages): JsonRpcRequest | undefined {
  const [first] = posted.messages;
  if (req.headers['mcp-session-id'] || posted.batch || !first || !isRequest(first) || first.method !== 'initialize') return undefined;
  return first;
}

/** An initialize anywhere else (in a batch, or on a session that exists) is refused with what to do instead. */
export function refuseMisplacedInitialize(req: IncomingMessage, posted: PostedMessages): void {
  if (!posted.messages.some((m) => isRequest(m) && m.method === 'initialize')) return;
  if (req.headers['mcp-session-id']) throw mcpError(400, 'Invalid Request: the session is already initialized');
  throw mcpError(400, 'Invalid Request: send initialize alone, not in a batch');
}

export function checkProtocolVersion(req: IncomingMessage): void {
  const version = req.headers['mcp-protocol-version'];
  if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    throw mcpError(400, `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
  }
}

/** The Mcp-Session-Id a request names: undefined when it names none, a 400 when the header is empty. */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  const id = req.headers['mcp-session-id'];
  if (id === undefined) return undefined;
  if (typeof id !== 'string' || !id) throw mcpError(400, 'Bad Request: the Mcp-Session-Id header is empty');
  return id;
}

/** Claims of a bearer token for logging only: never used to decide anything. */
export function unverifiedClaims(authorization: string | undefined): { client_id?: unknown; sub?: unknown; aud?: unknown } {
  const claims = unverifiedJwtClaims(authorization?.split(' ')[1]) ?? {};
  return { client_id: claims.client_id, sub: claims.sub, aud: claims.aud };
}

const ALLOWED_HEADERS = 'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name';

/**
 * The answer to a CORS preflight of the MCP endpoint. CORS has no wildcard for header names, so
 * the Mcp-Param-* headers a browser client asks for (a tool's x-mcp-header parameters) are named.
 */
export function preflightHeaders(req: IncomingMessage): Record<string, string> {
  const asked = (req.headers['access-control-request-headers'] ?? '').split(',').map((name) => name.trim().toLowerCase());
  const params = asked.filter((name) => /^mcp-param-[a-z0-9_-]{1,64}$/.test(name)).slice(0, 32);
  return {
    'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': [ALLOWED_HEADERS, ...params].join(', '),
    'Access-Control-Max-Age': '600',
  };
}

/** CORS headers for the caller's origin, on every answer. */
export function corsHeaders(req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  return origin
    ? {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Expose-Headers': 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version',
        Vary: 'Origin',
      }
    : {};
}
