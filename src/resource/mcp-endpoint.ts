import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config/schema.js';
import { unverifiedJwtClaims } from '../lib/unverified-jwt.js';
import type { Logger } from '../log/logger.js';
import { clientInfoForLog } from '../log/bound.js';
import type { PersonLabels } from '../log/person-labels.js';
import type { McpBridge } from '../bridge/bridge.js';
import { PostResponse, EventStream } from '../bridge/http-streams.js';
import {
  ErrorCode, errorResponse, isJsonRpcMessage, isNotification, isRequest, isResponse, LimitReached,
  type JsonRpcMessage, type JsonRpcRequest,
} from '../bridge/jsonrpc.js';
import type { RemoteProxies } from '../bridge/remote-proxy.js';
import type { RemoteSession } from '../bridge/remote-sessions.js';
import type { McpSession } from '../bridge/session.js';
import type { SessionForwarder } from '../cluster/session-forwarder.js';
import type { RateLimitName } from '../config/schema.js';
import { clientIp } from '../web/client-address.js';
import type { RateLimits } from '../web/rate-limit.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { BearerAuth } from './bearer-auth.js';
import type { VerifiedAccessToken } from './token-verifier.js';

export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_IN_FLIGHT_PER_SESSION = 256;
const PATH = /^\/mcp\/([A-Za-z0-9][A-Za-z0-9_-]{0,62})\/?(?:\?.*)?$/;

/** A POST's JSON-RPC messages, and its raw body (forwarded as is to a remote server). */
interface PostedMessages {
  messages: JsonRpcMessage[];
  batch: boolean;
  body: Buffer;
}

export interface McpEndpointOptions {
  config: GatewayConfig;
  auth: BearerAuth;
  bridge: McpBridge;
  logger: Logger;
  remote?: RemoteProxies;
  /** With replicas: sends requests for sessions held by another replica there. */
  forwarder?: SessionForwarder;
  /** Counts every answered request (route /mcp/:server) when metrics are on. */
  metrics?: GatewayMetrics;
  /** rateLimits.mcp: POSTs per person. */
  rateLimits?: RateLimits;
  /** Emails for the session and process log lines, read once per person. */
  people?: PersonLabels;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, ErrorCode.InvalidRequest, `the request body is larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, ErrorCode.InvalidRequest, `the request body is larger than ${limit} bytes`));
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

/**
 * The MCP Streamable HTTP endpoint (protocol revisions 2025-03-26 to 2025-11-25) in front of the
 * stdio bridge. Runs before Express: every MCP request is on the hot path.
 */
export function createMcpEndpoint({ config, auth, bridge, logger, remote, forwarder, metrics, rateLimits, people }: McpEndpointOptions) {
  const limitPosts = rateLimits?.enabled('mcp') ?? false;
  const limitInitialize = rateLimits?.enabled('initialize') ?? false;
  // One shared listener (no closure per request): `this` is the response.
  const countRequest = metrics
    ? function countRequest(this: ServerResponse): void { metrics.httpRequest('/mcp/:server', this.req.method ?? 'GET', this.statusCode); }
    : undefined;
  const allowedOrigins = new Set([new URL(config.publicUrl).origin, ...config.allowedOrigins.map((o) => new URL(o).origin)]);

  function corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    return origin ? { 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version', Vary: 'Origin' } : {};
  }

  /**
   * The last link of an OAuth flow trace: a refused token is logged with the client it claims to
   * come from (read without trusting it), so "the connector says unauthorized" has an answer.
   */
  function logRefusedToken(req: IncomingMessage, serverName: string, body: { error: string; error_description: string }): void {
    if (body.error === 'unauthorized') {
      logger.debug({ event: 'mcp.challenge', server: serverName }, 'no token: answered with the OAuth challenge');
      return;
    }
    const claims = unverifiedClaims(req.headers.authorization);
    logger.warn({ event: 'mcp.token_refused', server: serverName, clientId: claims.client_id, sub: claims.sub, audience: claims.aud, error: body.error, description: body.error_description }, 'MCP request with a refused token');
  }

  function sessionFor(req: IncomingMessage, token: VerifiedAccessToken, serverName: string): McpSession {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string' || !id) throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: the Mcp-Session-Id header is required');
    const session = bridge.find(id);
    // Another user's (client's, server's) session id is answered exactly like an unknown one.
    if (!session || session.sub !== token.sub || session.clientId !== token.client_id || session.serverName !== serverName) throw new HttpError(404, ErrorCode.RequestTimeout, 'Session not found');
    return session;
  }

  function checkProtocolVersion(req: IncomingMessage): void {
    const version = req.headers['mcp-protocol-version'];
    if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      throw new HttpError(400, ErrorCode.InvalidRequest, `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
    }
  }

  async function parseMessages(req: IncomingMessage): Promise<PostedMessages> {
    if (!accepts(req, 'application/json') && !accepts(req, 'text/event-stream')) throw new HttpError(406, ErrorCode.InvalidRequest, 'Not Acceptable: accept application/json and text/event-stream');
    const type = req.headers['content-type'] ?? '';
    if (!type.includes('application/json')) throw new HttpError(415, ErrorCode.InvalidRequest, 'Unsupported Media Type: send application/json');
    const body = await readBody(req, MAX_BODY_BYTES);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpError(400, ErrorCode.ParseError, 'Parse error: the body is not valid JSON');
    }
    const batch = Array.isArray(parsed);
    const messages = batch ? parsed as unknown[] : [parsed];
    if (messages.length === 0 || !messages.every(isJsonRpcMessage)) throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
    return { messages: messages as JsonRpcMessage[], batch, body };
  }

  /** The initialize request of a POST that opens a session (no session id yet), if it is one. */
  function initializeRequest(req: IncomingMessage, posted: PostedMessages): JsonRpcRequest | undefined {
    if (req.headers['mcp-session-id']) return undefined;
    return posted.messages.find((m): m is JsonRpcRequest => isRequest(m) && m.method === 'initialize');
  }

  /** rateLimits.mcp counts every message of a POST (a batch is no way round it); rateLimits.initialize new sessions. */
  async function refusedByRateLimit(req: IncomingMessage, res: ServerResponse, token: VerifiedAccessToken, serverName: string, posted: PostedMessages, headers: Record<string, string>): Promise<boolean> {
    if (limitPosts && await refused('mcp', posted.messages.length, 'MCP requests')) return true;
    return limitInitialize && !!initializeRequest(req, posted) && await refused('initialize', 1, 'new sessions');

    async function refused(name: RateLimitName, points: number, what: string): Promise<boolean> {
      const pending = rateLimits!.takeWithoutWaiting(name, token.sub, points);
      const retryAfter = typeof pending === 'number' ? pending : await pending;
      if (retryAfter <= 0) return false;
      rateLimits!.refused(name, token.sub, retryAfter, { sub: token.sub, clientId: token.client_id, server: serverName, ip: clientIp(req, config.trustProxy) });
      const rule = rateLimits!.rule(name)!;
      sendJson(res, 429, errorResponse(null, ErrorCode.RateLimited, `Too many requests: at most ${rule.limit} ${what} per ${rule.window}s per person; retry in ${retryAfter}s`, { retryAfter }), { ...headers, 'Retry-After': String(retryAfter) });
      return true;
    }
  }

  async function initialize(req: IncomingMessage, res: ServerResponse, request: JsonRpcRequest, token: VerifiedAccessToken, serverName: string, headers: Record<string, string>): Promise<void> {
    let opened: ReturnType<McpBridge['openSession']>;
    try {
      opened = bridge.openSession(serverName, token.sub, token.client_id);
    } catch (error) {
      if (!(error instanceof LimitReached)) throw error;
      logger.warn({ event: 'mcp.session.refused', server: serverName, sub: token.sub, clientId: token.client_id, reason: error.message }, 'MCP session refused: a limit is reached');
      sendJson(res, 200, errorResponse(request.id, ErrorCode.LimitReached, error.message), headers);
      return;
    }
    const { session, backend } = opened;
    try {
      await backend.ensureStarted();
    } catch (error) {
      bridge.closeSession(session);
      sendJson(res, 200, errorResponse(request.id, ErrorCode.ServerUnavailable, (error as Error).message), headers);
      return;
    }
    const requested = request.params?.protocolVersion;
    session.protocolVersion = typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : SUPPORTED_PROTOCOL_VERSIONS[0]!;
    session.clientCapabilities = (request.params?.capabilities ?? {}) as McpSession['clientCapabilities'];
    bridge.register(session);
    logger.info({ event: 'mcp.session', server: serverName, sub: token.sub, email: people?.cachedEmailOf(token.sub), clientId: token.client_id, sessionId: session.id.slice(-8), protocolVersion: session.protocolVersion, clientInfo: clientInfoForLog(request.params?.clientInfo) }, 'MCP session opened');
    sendJson(res, 200, { jsonrpc: '2.0', id: request.id, result: { ...backend.initializeResult, protocolVersion: session.protocolVersion } }, { ...headers, 'Mcp-Session-Id': session.id });
  }

  async function post(req: IncomingMessage, res: ServerResponse, token: VerifiedAccessToken, serverName: string, posted: PostedMessages, headers: Record<string, string>): Promise<void> {
    const { messages, batch } = posted;
    const first = messages[0]!;
    if (!req.headers['mcp-session-id'] && !batch && isRequest(first) && first.method === 'initialize') {
      // The person's email, for the session's and its process's log lines: read before either is written.
      await people?.emailOf(token.sub);
      await initialize(req, res, first, token, serverName, headers);
      return;
    }
    if (messages.some((m) => isRequest(m) && m.method === 'initialize')) throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: the session is already initialized');
    const session = sessionFor(req, token, serverName);
    checkProtocolVersion(req);
    const backend = bridge.backendOf(session)!;
    session.touch();
    const requests = messages.filter(isRequest);
    if (requests.length === 0) {
      for (const message of messages) {
        if (isNotification(message)) backend.notify(session, message);
        else if (isResponse(message)) backend.respond(session, message);
      }
      res.writeHead(202, headers).end();
      return;
    }
    if (session.inFlightCount + requests.length > MAX_IN_FLIGHT_PER_SESSION) {
      throw new HttpError(429, ErrorCode.InvalidRequest, `too many requests in flight on this session (limit ${MAX_IN_FLIGHT_PER_SESSION})`);
    }
    if (requests.some((r) => session.isInFlight(r.id)) || new Set(requests.map((r) => `${typeof r.id}:${r.id}`)).size !== requests.length) {
      throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: a request with this id is already in flight on this session');
    }
    const response = new PostResponse(res, requests.map((r) => r.id), batch, headers);
    for (const message of messages) {
      if (isRequest(message)) {
        session.track(message.id, response);
        backend.request(session, message);
      } else if (isNotification(message)) {
        backend.notify(session, message);
      } else if (isResponse(message)) {
        backend.respond(session, message);
      }
    }
  }

  function get(req: IncomingMessage, res: ServerResponse, token: VerifiedAccessToken, serverName: string, headers: Record<string, string>): void {
    if (!req.headers.accept?.includes('text/event-stream')) throw new HttpError(405, ErrorCode.InvalidRequest, 'Method Not Allowed: GET opens an event stream (Accept: text/event-stream)');
    const session = sessionFor(req, token, serverName);
    checkProtocolVersion(req);
    if (session.eventStream) throw new HttpError(409, ErrorCode.InvalidRequest, 'Conflict: this session already has an open event stream');
    session.touch();
    // The stream ends when the token does; the client reconnects with a fresh one.
    session.eventStream = new EventStream(res, headers, () => {
      session.eventStream = undefined;
      session.touch();
    }, token.exp! * 1000);
  }

  /** A remote server: the session must be the caller's, and a new one must fit limits.sessionsPerPerson. */
  function viaRemote(req: IncomingMessage, res: ServerResponse, token: VerifiedAccessToken, serverName: string, posted: PostedMessages | undefined, headers: Record<string, string>): void {
    const sessionId = req.headers['mcp-session-id'];
    let session: RemoteSession | undefined;
    if (typeof sessionId === 'string' && sessionId) {
      session = remote!.sessions.find(sessionId, serverName, token.sub, token.client_id);
      if (!session) throw new HttpError(404, ErrorCode.RequestTimeout, 'Session not found');
    } else if (sessionId !== undefined) {
      throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: the Mcp-Session-Id header is empty');
    }
    const initializing = posted && initializeRequest(req, posted);
    if (initializing) {
      try {
        remote!.sessions.makeRoom(serverName, token.sub);
      } catch (error) {
        if (!(error instanceof LimitReached)) throw error;
        sendJson(res, 200, errorResponse(initializing.id, ErrorCode.LimitReached, error.message), headers);
        return;
      }
    }
    remote!.proxy(req, res, serverName, { sub: token.sub, clientId: token.client_id, tokenExpiresAt: token.exp! * 1000, body: posted?.body, session });
  }

  function remove(req: IncomingMessage, res: ServerResponse, token: VerifiedAccessToken, serverName: string, headers: Record<string, string>): void {
    const session = sessionFor(req, token, serverName);
    bridge.closeSession(session);
    logger.info({ event: 'mcp.session.closed', server: serverName, sub: token.sub, sessionId: session.id.slice(-8) }, 'MCP session closed by the client');
    res.writeHead(200, headers).end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, serverName: string): Promise<void> {
    const headers = corsHeaders(req);
    const origin = req.headers.origin;
    if (origin && !allowedOrigins.has(origin)) {
      sendJson(res, 403, errorResponse(null, ErrorCode.InvalidRequest, `Forbidden: origin ${origin} is not allowed (add it to allowedOrigins)`));
      return;
    }
    if (!Object.hasOwn(config.mcpServers, serverName)) {
      sendJson(res, 404, errorResponse(null, ErrorCode.InvalidRequest, `no MCP server named "${serverName}"`), headers);
      return;
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...headers,
        'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID',
        'Access-Control-Max-Age': '600',
      }).end();
      return;
    }
    const pending = auth.authenticate(req, serverName);
    const outcome = 'then' in pending ? await pending : pending;
    if (!outcome.ok) {
      logRefusedToken(req, serverName, outcome.body);
      sendJson(res, outcome.status, outcome.body, { ...headers, ...outcome.headers });
      return;
    }
    const { token } = outcome;
    // A session opened through another replica lives there, with its stdio process or its
    // remote session's owner record (both kinds of session id name their replica).
    const owner = forwarder?.foreignOwner(req);
    if (owner) {
      await forwarder!.forward(req, res, owner);
      return;
    }
    if (req.method === 'GET' && token.exp! * 1000 <= Date.now()) {
      // Accepted within the clock tolerance, but a stream opened now would end at once.
      const expired = auth.expired(serverName);
      sendJson(res, expired.status, expired.body, { ...headers, ...expired.headers });
      return;
    }
    const posted = req.method === 'POST' ? await parseMessages(req) : undefined;
    if (posted && (limitPosts || limitInitialize) && await refusedByRateLimit(req, res, token, serverName, posted, headers)) return;
    // The token is for the gateway alone; it never travels further.
    delete req.headers.authorization;
    if (!bridge.serves(serverName)) {
      if (remote) viaRemote(req, res, token, serverName, posted, headers);
      else sendJson(res, 404, errorResponse(null, ErrorCode.InvalidRequest, `no MCP server named "${serverName}"`), headers);
      return;
    }
    switch (req.method) {
      case 'POST': return post(req, res, token, serverName, posted!, headers);
      case 'GET': return get(req, res, token, serverName, headers);
      case 'DELETE': return remove(req, res, token, serverName, headers);
      default: throw new HttpError(405, ErrorCode.InvalidRequest, `Method Not Allowed: ${req.method}`);
    }
  }

  return {
    /** The server name when `url` is an MCP endpoint of this gateway. */
    match(url: string | undefined): string | undefined {
      return url?.startsWith('/mcp/') ? PATH.exec(url)?.[1] : undefined;
    },
    serve(req: IncomingMessage, res: ServerResponse, serverName: string): void {
      if (countRequest) res.on('close', countRequest);
      handle(req, res, serverName).catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (error instanceof HttpError) {
          sendJson(res, error.status, errorResponse(null, error.code, error.message), corsHeaders(req));
          return;
        }
        logger.error({ err: error, server: serverName }, 'MCP request failed');
        sendJson(res, 500, errorResponse(null, ErrorCode.InternalError, 'Internal error'), corsHeaders(req));
      });
    },
  };
}

export type McpEndpoint = ReturnType<typeof createMcpEndpoint>;

/** Claims of a bearer token for logging only: never used to decide anything. */
function unverifiedClaims(authorization: string | undefined): { client_id?: unknown; sub?: unknown; aud?: unknown } {
  const claims = unverifiedJwtClaims(authorization?.split(' ')[1]) ?? {};
  return { client_id: claims.client_id, sub: claims.sub, aud: claims.aud };
}
