// The Streamable HTTP transport (2025 revisions): HTTP in, calls on the MCP core out, a sink per
// session. Over 300 lines with its comments (about 280 of code): one wire's request handling; body
// parsing and header rules live in http-request.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig, RateLimitName } from '../../config/schema.js';
import { SERVER_NAME_SOURCE } from '../../config/server-names.js';
import { clientIp } from '../../web/client-address.js';
import type { RateLimits } from '../../web/rate-limit.js';
import type { Logger } from '../../log/logger.js';
import type { PersonLabels } from '../../log/person-labels.js';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { asGatewayError, GatewayError } from '../../web/errors.js';
import type { BearerAuth } from '../auth/bearer-auth.js';
import type { VerifiedAccessToken } from '../auth/token-verifier.js';
import type { SessionForwarder } from '../cluster/session-forwarder.js';
import type { McpBridge } from '../core/bridge.js';
import type { McpSession } from '../core/session.js';
import type { SessionResumer } from '../core/session-resume.js';
import { ErrorCode, isRequest, type JsonRpcRequest } from '../jsonrpc.js';
import type { RemoteProxies } from '../remote/remote-proxy.js';
import { StreamableHttpSink } from './http-session-sink.js';
import { SessionRouting } from './session-routing.js';
import { viaRemote, type Exchange } from './remote-exchange.js';
import { ModernHttpWire } from './modern-http.js';
import { isModernPost } from './modern-request.js';
import { STANDALONE_STREAM } from './sse-replay.js';
import { EventStream, PostResponse } from './http-streams.js';
import {
  checkProtocolVersion,
  corsHeaders,
  preflightHeaders,
  initializeRequest,
  refuseMisplacedInitialize,
  parseMessages,
  sessionIdOf,
  unverifiedClaims,
  type PostedMessages,
} from './http-request.js';
import { mcpError, sendJson, sendJsonRpcError } from '../json-rpc-errors.js';

const PATH = new RegExp(`^/mcp/(${SERVER_NAME_SOURCE})/?(?:\\?.*)?$`);

export interface McpEndpointOptions {
  config: GatewayConfig;
  auth: BearerAuth;
  bridge: McpBridge;
  logger: Logger;
  remote?: RemoteProxies;
  /** With replicas: sends requests for sessions held by another replica there. */
  forwarder?: SessionForwarder;
  /** Opens again a session known only from its record (after a restart, or its replica's death). */
  resumer?: SessionResumer;
  /** Counts every answered request (route /mcp/:server) when metrics are on. */
  metrics?: GatewayMetrics;
  /** rateLimits.mcp: POSTs per person. */
  rateLimits?: RateLimits;
  /** Emails for the session and process log lines, read once per person. */
  people?: PersonLabels;
  /** A durable secret behind the modern wire's requestState (the cookie key will do). */
  stateSecret: string;
  /** Names this replica in the ids it hands out. */
  idPrefix?: string;
}

const ownerOf = (token: VerifiedAccessToken) => ({ sub: token.sub, clientId: token.client_id });

/**
 * The MCP Streamable HTTP transport (protocol revisions 2024-11-05 to 2025-11-25): turns each
 * HTTP request into calls on the MCP core (McpBridge) and gives every session a sink that writes
 * to this session's POST responses and GET stream. Runs before Express: it is the hot path.
 * Everything refused is thrown as a GatewayError and rendered once, as a JSON-RPC error body.
 */
export class StreamableHttpTransport {
  private readonly bridge: McpBridge;
  private readonly allowedOrigins: Set<string>;
  private readonly admission: ReturnType<typeof admitRequests>;
  private readonly routing: SessionRouting;
  /** The modern (2026-07-28) adapter, on the same core and URL. */
  private readonly modern: ModernHttpWire;
  /** One shared listener (no closure per request): `this` is the response. */
  private readonly countRequest?: (this: ServerResponse) => void;

  constructor(private readonly options: McpEndpointOptions) {
    const { config, metrics } = options;
    this.bridge = options.bridge;
    this.allowedOrigins = new Set([new URL(config.publicUrl).origin, ...config.allowedOrigins.map((o) => new URL(o).origin)]);
    this.admission = admitRequests(options);
    this.routing = new SessionRouting(options.bridge, options.resumer, options.forwarder);
    this.modern = new ModernHttpWire({
      bridge: options.bridge,
      logger: options.logger,
      servers: config.mcpServers,
      stateSecret: options.stateSecret,
      idPrefix: options.idPrefix ?? '',
      forwarder: options.forwarder,
    });
    if (metrics)
      this.countRequest = function countRequest(this: ServerResponse): void {
        metrics.httpRequest('/mcp/:server', this.req.method ?? 'GET', this.statusCode);
      };
  }

  /** At shutdown: ends every GET stream, stdio and remote, so clients reconnect elsewhere and none holds the drain. */
  closeEventStreams(): void {
    this.bridge.closeEventStreams();
    this.options.remote?.sessions.endStreams();
  }

  /** The server name when `url` is an MCP endpoint of this gateway. */
  match(url: string | undefined): string | undefined {
    return url?.startsWith('/mcp/') ? PATH.exec(url)?.[1] : undefined;
  }

  serve(req: IncomingMessage, res: ServerResponse, serverName: string): void {
    if (this.countRequest) res.on('close', this.countRequest);
    this.handle(req, res, serverName).catch((error: unknown) => this.fail(req, res, serverName, error));
  }

  /** A request that failed: its error rendered once, as a JSON-RPC error body. */
  private fail(req: IncomingMessage, res: ServerResponse, serverName: string, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (!(error instanceof GatewayError)) this.options.logger.error({ err: error, server: serverName }, 'MCP request failed');
    sendJsonRpcError(res, asGatewayError(error), corsHeaders(req));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, serverName: string): Promise<void> {
    const { config, auth } = this.options;
    const headers = corsHeaders(req);
    const origin = req.headers.origin;
    if (origin && !this.allowedOrigins.has(origin)) {
      // No CORS headers: the foreign page must not read even the refusal.
      sendJsonRpcError(res, mcpError(403, `Forbidden: origin ${origin} is not allowed (add it to allowedOrigins)`));
      return;
    }
    if (!Object.hasOwn(config.mcpServers, serverName)) throw mcpError(404, `no MCP server named "${serverName}"`);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...headers, ...preflightHeaders(req) }).end();
      return;
    }
    const token = await this.admission.authenticate(req, res, serverName, headers);
    if (!token) return;
    if (req.method === 'GET' && token.exp! * 1000 <= Date.now()) {
      // Accepted within the clock tolerance, but a stream opened now would end at once.
      const expired = auth.expired(serverName);
      sendJson(res, expired.status, expired.body, { ...headers, ...expired.headers });
      return;
    }
    // Read before any forward, so that a replica found dead leaves the request to be served here.
    const posted = req.method === 'POST' ? await parseMessages(req) : undefined;
    const exchange: Exchange = { req, res, token, serverName, headers };
    // A session opened through another replica lives there, with its stdio process or its
    // remote session's owner record (both kinds of session id name their replica).
    const holder = this.routing.foreignHolder(req, ownerOf(token), serverName);
    return holder ? this.forwardTo(holder, exchange, posted) : this.serveHere(exchange, posted);
  }

  /** Sends the request to the replica holding its session; when that replica is gone, serves it here. */
  private forwardTo(replica: string, exchange: Exchange, posted: PostedMessages | undefined, dead: string[] = []): Promise<void> {
    const { req, res, serverName } = exchange;
    return this.options.forwarder!.forward(req, res, replica, posted?.body, () => {
      this.serveHere(exchange, posted, [...dead, replica]).catch((error: unknown) => this.fail(req, res, serverName, error));
    });
  }

  /**
   * The request served by this replica: its session is here, or is resumed here from its record
   * (the `dead` replicas refused the forward), or held by another replica that took it over first.
   */
  private async serveHere(exchange: Exchange, posted: PostedMessages | undefined, dead: string[] = []): Promise<void> {
    const { req, serverName, token } = exchange;
    if (posted) await this.admission.checkRateLimits(exchange, posted);
    // The token is for the gateway alone; it never travels further (but to another replica).
    const authorization = req.headers.authorization!;
    const stdio = this.bridge.serves(serverName);
    // The same URL serves both eras: a POST that describes itself in _meta needs no session.
    const modern = this.bridge.servesModern(serverName) && !!posted && isModernPost(req.headers, posted.messages, posted.batch);
    if (modern || !stdio) delete req.headers.authorization;
    // A remote server that speaks the modern era itself takes modern requests as they are (proxied below).
    const proxied = modern && !stdio && !!this.options.remote && (await this.options.remote.eras.speaksModern(serverName));
    if (modern && !proxied) return this.modern.post({ ...exchange, body: posted!.body, authorization }, posted!.messages[0]!);
    if (!stdio) {
      if (!this.options.remote) throw mcpError(404, `no MCP server named "${serverName}"`);
      return viaRemote(this.options.remote, exchange, posted);
    }
    const holder = await this.routing.resumeHere(req, ownerOf(token), serverName, dead);
    if (holder) return this.forwardTo(holder, exchange, posted, dead);
    delete req.headers.authorization;
    switch (req.method) {
      case 'POST':
        return this.post(exchange, posted!);
      case 'GET':
        return this.get(exchange);
      case 'DELETE':
        return this.remove(exchange);
      default:
        throw mcpError(405, `Method Not Allowed: ${req.method}`);
    }
  }

  /** A stdio server's session named by the request, when it is the caller's and was opened on this wire. */
  private sessionFor({ req, token, serverName }: Exchange): { session: McpSession; sink: StreamableHttpSink } {
    const id = sessionIdOf(req);
    if (!id)
      throw mcpError(
        400,
        'Bad Request: the Mcp-Session-Id header is required. Open a session with initialize first (MCP 2025-11-25 and ' +
          'earlier), or send MCP 2026-07-28 requests, which carry io.modelcontextprotocol/protocolVersion in params._meta',
      );
    const session = this.bridge.find(id, ownerOf(token), serverName);
    // Another user's (client's, server's) session id is answered exactly like an unknown one.
    if (!session || !(session.sink instanceof StreamableHttpSink)) throw mcpError(404, 'Session not found', ErrorCode.SessionNotFound);
    return { session, sink: session.sink };
  }

  private async initialize(exchange: Exchange, request: JsonRpcRequest): Promise<void> {
    const { res, token, serverName, headers } = exchange;
    // The person's email, for the session's and its process's log lines: read before either is written.
    await this.options.people?.emailOf(token.sub);
    const { session, response } = await this.bridge.initialize(serverName, ownerOf(token), request, new StreamableHttpSink());
    sendJson(res, 200, response, session ? { ...headers, 'Mcp-Session-Id': session.id } : headers);
  }

  private async post(exchange: Exchange, posted: PostedMessages): Promise<void> {
    const { req, res, headers } = exchange;
    const { messages, batch } = posted;
    const initialize = initializeRequest(req, posted);
    if (initialize) return this.initialize(exchange, initialize);
    refuseMisplacedInitialize(req, posted);
    const { session, sink } = this.sessionFor(exchange);
    checkProtocolVersion(req);
    const requests = messages.filter(isRequest);
    this.bridge.admit(session, requests);
    const ids = requests.map((request) => request.id);
    if (ids.length === 0) res.writeHead(202, headers).end();
    else sink.carry(ids, new PostResponse(res, ids, batch, headers, sink.replay));
    this.bridge.receive(session, messages);
  }

  private get(exchange: Exchange): void {
    const { req, res, token, headers } = exchange;
    if (!req.headers.accept?.includes('text/event-stream'))
      throw mcpError(405, 'Method Not Allowed: GET opens an event stream (Accept: text/event-stream)');
    const { session, sink } = this.sessionFor(exchange);
    checkProtocolVersion(req);
    session.touch();
    // A client whose stream broke reconnects with the last event id it got: it gets what followed.
    const lastEventId = req.headers['last-event-id'];
    const resumed = typeof lastEventId === 'string' ? sink.replay.after(lastEventId) : undefined;
    if (resumed && resumed.stream !== STANDALONE_STREAM) return sink.resumePost(resumed.stream, resumed.events, res, headers);
    if (resumed) sink.stopListening();
    else if (sink.listening) throw mcpError(409, 'Conflict: this session already has an open event stream');
    // The stream ends when the token does; the client reconnects with a fresh one.
    const stream: EventStream = new EventStream(
      res,
      headers,
      () => {
        if (sink.eventStream === stream) sink.eventStream = undefined;
        session.touch();
      },
      token.exp! * 1000,
      sink.replay,
      resumed?.events,
    );
    sink.eventStream = stream;
  }

  private async remove(exchange: Exchange): Promise<void> {
    const { session } = this.sessionFor(exchange);
    // Answered once the record is gone too: a restart right after never brings the session back.
    await this.bridge.endSession(session);
    this.options.logger.info(
      { event: 'mcp.session.closed', server: exchange.serverName, sub: exchange.token.sub, sessionId: session.id.slice(-8) },
      'MCP session closed by the client',
    );
    exchange.res.writeHead(200, exchange.headers).end();
  }
}

/** The MCP endpoint of app.ts: the Streamable HTTP transport over the core. */
export function createMcpEndpoint(options: McpEndpointOptions): StreamableHttpTransport {
  return new StreamableHttpTransport(options);
}

export type McpEndpoint = StreamableHttpTransport;

/** The bearer check and the per-person rate limits, in front of both kinds of server. */
function admitRequests({ auth, logger, rateLimits, config }: McpEndpointOptions) {
  const limitPosts = rateLimits?.enabled('mcp') ?? false;
  const limitInitialize = rateLimits?.enabled('initialize') ?? false;

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
    logger.warn(
      {
        event: 'mcp.token_refused',
        server: serverName,
        clientId: claims.client_id,
        sub: claims.sub,
        audience: claims.aud,
        error: body.error,
        description: body.error_description,
      },
      'MCP request with a refused token',
    );
  }

  async function refuseOver(name: RateLimitName, points: number, what: string, { req, token, serverName }: Exchange): Promise<void> {
    const pending = rateLimits!.takeWithoutWaiting(name, token.sub, points);
    const retryAfter = typeof pending === 'number' ? pending : await pending;
    if (retryAfter <= 0) return;
    rateLimits!.refused(name, token.sub, retryAfter, {
      sub: token.sub,
      clientId: token.client_id,
      server: serverName,
      ip: clientIp(req, config.trustProxy),
    });
    const rule = rateLimits!.rule(name)!;
    throw mcpError(
      429,
      `Too many requests: at most ${rule.limit} ${what} per ${rule.window}s per person; retry in ${retryAfter}s`,
      ErrorCode.RateLimited,
      { headers: { 'Retry-After': String(retryAfter) }, data: { retryAfter } },
    );
  }

  return {
    /** The verified token, or undefined once the OAuth challenge (401, or 403 for a missing scope) is sent. */
    async authenticate(
      req: IncomingMessage,
      res: ServerResponse,
      serverName: string,
      headers: Record<string, string>,
    ): Promise<VerifiedAccessToken | undefined> {
      const pending = auth.authenticate(req, serverName);
      const outcome = 'then' in pending ? await pending : pending;
      if (outcome.ok) return outcome.token;
      logRefusedToken(req, serverName, outcome.body);
      sendJson(res, outcome.status, outcome.body, { ...headers, ...outcome.headers });
      return undefined;
    },
    /** rateLimits.mcp counts every message of a POST (a batch is no way round it); rateLimits.initialize new sessions. */
    async checkRateLimits(exchange: Exchange, posted: PostedMessages): Promise<void> {
      if (limitPosts) await refuseOver('mcp', posted.messages.length, 'MCP requests', exchange);
      if (limitInitialize && initializeRequest(exchange.req, posted)) await refuseOver('initialize', 1, 'new sessions', exchange);
    },
  };
}
