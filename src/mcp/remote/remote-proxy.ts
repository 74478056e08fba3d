import { Agent as HttpAgent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import { hasPersonTemplate } from '../../config/person-templates.js';
import type { GatewayConfig, RemoteServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { SESSION_IDLE_TIMEOUT_MS } from '../core/bridge.js';
import { endStreamAt } from '../stream-deadline.js';
import { ErrorCode, errorResponse } from '../jsonrpc.js';
import { personalHeaders, type PersonalDependencies } from '../process/personal-spec.js';
import { RemoteEras } from './remote-era.js';
import { RemoteSessions, type RemoteSession } from './remote-sessions.js';

/** The client's credentials and origin stay at the gateway. */
const GATEWAY_ONLY = ['authorization', 'cookie', 'origin'];
/**
 * What the client says about the network, and RFC 7230 hop-by-hop headers: meant for the gateway
 * alone (the gateway is the upstream's client), so never passed on. x-mcpgw-* are the gateway's own.
 */
const NETWORK_HEADER =
  /^(?:forwarded|x-forwarded-.*|x-real-ip|x-mcpgw-.*|via|connection|keep-alive|te|trailer|transfer-encoding|upgrade|proxy-.*)$/;

/** What the endpoint learned about one request before it is proxied. */
export interface RemoteCall {
  sub: string;
  clientId: string;
  /** The access token's expiry (ms since the epoch): a GET stream ends then. */
  tokenExpiresAt: number;
  /** A POST body, already read (and parsed) by the endpoint. */
  body?: Buffer;
  /** The caller's own session, for a request that names one. */
  session?: RemoteSession;
  /** The server's headers with their templates expanded for the caller (set by the proxy). */
  headers?: Record<string, string>;
}

/** Removes every header named by NETWORK_HEADER or listed in the client's Connection header. */
function stripNetworkHeaders(proxyReq: ClientRequest, req: IncomingMessage): void {
  const named = new Set((req.headers.connection ?? '').split(',').map((token) => token.trim().toLowerCase()));
  for (const name of proxyReq.getHeaderNames()) {
    if (NETWORK_HEADER.test(name) || named.has(name) || GATEWAY_ONLY.includes(name)) proxyReq.removeHeader(name);
  }
}

/** Ends a proxied GET stream at the token's expiry or the session's maximum lifetime, whichever is first. */
function boundStream(res: ServerResponse, proxyRes: IncomingMessage, call: RemoteCall, sessions: RemoteSessions): void {
  const endAt = Math.min(call.tokenExpiresAt, call.session ? call.session.createdAt + sessions.lifetimeMs : Infinity);
  const end = () => {
    proxyRes.unpipe(res);
    proxyRes.destroy();
    res.end();
  };
  const timer = endStreamAt(endAt, end);
  call.session?.streams.add(end);
  res.once('close', () => {
    clearTimeout(timer);
    call.session?.streams.delete(end);
    // The client left: so does the gateway's stream from the upstream.
    proxyRes.destroy();
  });
}

function proxyFor(
  serverName: string,
  remote: RemoteServerConfig,
  sessions: RemoteSessions,
  calls: WeakMap<IncomingMessage, RemoteCall>,
  logger: Logger,
): RequestHandler {
  const target = new URL(remote.url);
  const timeoutMs = remote.callTimeout * 1000;
  return createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: target.origin,
    changeOrigin: true,
    // SSE must flow as it comes: no buffering, no body rewriting.
    selfHandleResponse: false,
    pathRewrite: () => `${target.pathname}${target.search}`,
    proxyTimeout: timeoutMs,
    timeout: timeoutMs,
    xfwd: false,
    // Reuse upstream connections instead of one TCP (and TLS) handshake per MCP message.
    agent: target.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true }),
    on: {
      proxyReq: (proxyReq, req) => {
        // No token passthrough: the client's credentials stay at the gateway.
        stripNetworkHeaders(proxyReq, req);
        for (const [name, value] of Object.entries(calls.get(req)?.headers ?? remote.headers)) proxyReq.setHeader(name, value);
        const body = calls.get(req)?.body;
        if (body) {
          proxyReq.setHeader('content-length', body.length);
          proxyReq.write(body);
        }
      },
      proxyRes: (proxyRes, req, res) => {
        delete proxyRes.headers['set-cookie'];
        const call = calls.get(req);
        if (call) onUpstreamResponse(serverName, proxyRes, req, res, call, sessions);
      },
      error: (error, _req, res) => {
        const code = (error as NodeJS.ErrnoException).code;
        const timedOut = code === 'ECONNRESET' || code === 'ETIMEDOUT' || /timeout/i.test(error.message);
        logger.warn({ server: serverName, err: error.message, code }, 'remote MCP server error');
        const response = res as ServerResponse;
        if (!('headersSent' in response) || response.headersSent) {
          (res as { destroy?: () => void }).destroy?.();
          return;
        }
        const status = timedOut ? 504 : 502;
        const body = JSON.stringify(
          errorResponse(
            null,
            ErrorCode.InternalError,
            timedOut
              ? `the remote MCP server "${serverName}" did not answer in time`
              : `the remote MCP server "${serverName}" is unreachable (${code ?? error.message})`,
          ),
        );
        response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      },
    },
  });
}

/**
 * Binds the upstream's sessions to people: a session the upstream opens is recorded for the caller
 * and shown to the client under a gateway-issued id; one the upstream has ended is forgotten.
 */
function onUpstreamResponse(
  serverName: string,
  proxyRes: IncomingMessage,
  req: IncomingMessage,
  res: ServerResponse,
  call: RemoteCall,
  sessions: RemoteSessions,
): void {
  const upstreamId = proxyRes.headers['mcp-session-id'];
  const status = proxyRes.statusCode ?? 0;
  if (call.session) {
    if (status === 404 || (req.method === 'DELETE' && status >= 200 && status < 300)) sessions.close(call.session);
    if (upstreamId !== undefined) proxyRes.headers['mcp-session-id'] = call.session.id;
  } else if (typeof upstreamId === 'string' && upstreamId && status >= 200 && status < 300) {
    call.session = sessions.open(upstreamId, serverName, call.sub, call.clientId);
    proxyRes.headers['mcp-session-id'] = call.session.id;
  } else {
    delete proxyRes.headers['mcp-session-id'];
  }
  if (req.method === 'GET' && status === 200) boundStream(res, proxyRes, call, sessions);
  if (String(proxyRes.headers['content-type']).startsWith('text/event-stream')) {
    // The proxy copies the headers right after this event and sends them with the first chunk:
    // an event stream's client would wait for its first event (a GET stream's may come much later).
    process.nextTick(() => {
      if (!res.headersSent && !res.writableEnded) res.flushHeaders();
    });
  }
}

export type RemoteProxies = ReturnType<typeof createRemoteProxies>;

/** Reverse proxies for the servers configured with `url`, and the owners of their sessions. */
export function createRemoteProxies(config: GatewayConfig, logger: Logger, sessionIdPrefix = '', personal?: PersonalDependencies) {
  const sessionsPerPerson = (name: string) => (config.mcpServers[name] as RemoteServerConfig).limits.sessionsPerPerson;
  const sessions = new RemoteSessions(
    sessionsPerPerson,
    logger,
    sessionIdPrefix,
    SESSION_IDLE_TIMEOUT_MS,
    config.limits.sessionLifetime * 1000,
  );
  const calls = new WeakMap<IncomingMessage, RemoteCall>();
  const proxies = new Map<string, RequestHandler>();
  for (const [name, server] of Object.entries(config.mcpServers)) {
    if ('url' in server) proxies.set(name, proxyFor(name, server, sessions, calls, logger.child({ server: name })));
  }
  return {
    sessions,
    /** Which remote servers speak the modern era themselves (their modern requests are proxied as they are). */
    eras: new RemoteEras(config, logger),
    /** Proxies one request whose token, session and body the endpoint has already checked. */
    proxy(req: IncomingMessage, res: ServerResponse, serverName: string, call: RemoteCall): void {
      const proxy = proxies.get(serverName);
      if (!proxy) return;
      if (call.session) req.headers['mcp-session-id'] = call.session.upstreamId;
      calls.set(req, call);
      const forward = () =>
        void proxy(req, res, () => {
          res.writeHead(404).end();
        });
      const { headers } = config.mcpServers[serverName] as RemoteServerConfig;
      if (!personal || !Object.values(headers).some(hasPersonTemplate)) return forward();
      // Templates in headers (${user.email}, ${secret.NAME}) are the caller's own values.
      personalHeaders(personal, serverName, headers, call.sub).then(
        (expanded) => {
          call.headers = expanded;
          forward();
        },
        (error: Error) => {
          const body = JSON.stringify(errorResponse(null, ErrorCode.InternalError, `your secrets could not be read: ${error.message}`));
          res.writeHead(502, { 'Content-Type': 'application/json' }).end(body);
        },
      );
    },
  };
}
