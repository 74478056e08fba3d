import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import { ErrorCode } from '../jsonrpc.js';
import { sendJsonRpcError } from '../json-rpc-errors.js';
import { GatewayError } from '../../web/errors.js';
import type { Logger } from '../../log/logger.js';
import type { ReplicaDirectory } from './replica-directory.js';

/** Set on a forwarded request so the receiving replica never forwards it again. */
export const FORWARDED_HEADER = 'x-mcpgw-forwarded';
const SEPARATOR = '.';

/** Session ids carry their owner's replica id: `<replica>.<random>`. */
export function sessionIdPrefix(directory: ReplicaDirectory | undefined): string {
  return directory ? `${directory.id}${SEPARATOR}` : '';
}

/** Errors that mean the request never reached the replica: it is gone, and serving the request elsewhere runs it once. */
const NOT_REACHED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** What a forward needs besides the request: its body, already read, and what to do when the replica is gone. */
interface Forward {
  body?: Buffer;
  whenGone: () => void;
}

/**
 * Sends an MCP request for a session held by another replica to that replica, streaming both
 * ways (SSE included). The owner checks the token and the session's user again, exactly as if
 * the client had reached it directly. When the owner is gone (not in the directory, or refusing
 * connections), `whenGone` serves the request here instead: the session is resumed from its
 * record, or answered with the MCP "session not found" (404).
 */
export class SessionForwarder {
  private readonly proxies = new Map<string, RequestHandler>();
  private readonly agent = new Agent({ keepAlive: true });
  private readonly forwards = new WeakMap<IncomingMessage, Forward>();

  constructor(
    private readonly directory: ReplicaDirectory,
    private readonly logger: Logger,
  ) {}

  /** The id of the replica owning this session, when it is another one and the request was not forwarded already. */
  foreignOwner(req: IncomingMessage): string | undefined {
    const sessionId = req.headers['mcp-session-id'];
    return typeof sessionId === 'string' ? this.foreignOwnerOf(req, sessionId) : undefined;
  }

  /** The replica named at the start of an id this gateway handed out (a session id, a requestState), when another. */
  foreignOwnerOf(req: IncomingMessage, id: string): string | undefined {
    if (req.headers[FORWARDED_HEADER]) return undefined;
    const at = id.indexOf(SEPARATOR);
    if (at <= 0) return undefined;
    const owner = id.slice(0, at);
    return owner === this.directory.id ? undefined : owner;
  }

  /**
   * Forwards a request whose body was already read (the id naming the owner was in it) to the
   * replica `owner`, with the bearer token it came with, and streams the answer back.
   */
  async forwardRead(req: IncomingMessage, res: ServerResponse, owner: string, body: Buffer, authorization: string): Promise<void> {
    const url = await this.directory.urlOf(owner).catch(() => undefined);
    if (!url) {
      sendError(res, 404, 'the replica holding this call is gone; send the original request again without requestState');
      return;
    }
    const headers = { ...req.headers, authorization, [FORWARDED_HEADER]: this.directory.id, 'content-length': String(body.length) };
    const onward = request(new URL(req.url ?? '/', url), { method: req.method, headers, agent: this.agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    onward.on('error', (error) => {
      this.directory.forget(owner);
      this.logger.warn({ event: 'cluster.forward_failed', owner, url, err: error.message }, 'could not reach the replica holding the call');
      if (res.headersSent) res.destroy();
      else sendError(res, 502, 'could not reach the replica holding this call; send the original request again without requestState');
    });
    res.once('close', () => onward.destroy());
    onward.end(body);
  }

  /** Whether replica `id` is in the directory (a forward to it may still find it gone). */
  async isAlive(id: string): Promise<boolean> {
    return (await this.directory.urlOf(id)) !== undefined;
  }

  async forward(req: IncomingMessage, res: ServerResponse, owner: string, body: Buffer | undefined, whenGone: () => void): Promise<void> {
    let url: string | undefined;
    try {
      url = await this.directory.urlOf(owner);
    } catch (error) {
      this.logger.warn({ event: 'cluster.lookup_failed', owner, err: (error as Error).message }, 'replica directory unreachable');
      sendError(res, 503, 'the session registry is unavailable; retry shortly', { 'Retry-After': '2' });
      return;
    }
    // A replica restarted at the address of a dead one finds the dead one's entry, until it expires.
    if (!url || url === this.directory.advertiseUrl) {
      this.logger.info({ event: 'cluster.owner_gone', owner }, 'session belonged to a replica that is gone');
      whenGone();
      return;
    }
    req.headers[FORWARDED_HEADER] = this.directory.id;
    this.forwards.set(req, { body, whenGone });
    // The middleware's promise settles once the request is handed to the proxy and never rejects:
    // it passes its own failures to the callback, and failures while proxying go to `on.error`.
    await this.proxyTo(url, owner)(req, res, () => sendError(res, 502, 'could not forward the request'));
  }

  private proxyTo(url: string, owner: string): RequestHandler {
    let proxy = this.proxies.get(url);
    if (proxy) return proxy;
    proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
      target: url,
      changeOrigin: false,
      xfwd: false,
      agent: this.agent,
      on: {
        proxyReq: (proxyReq, req) => {
          // The body was read before forwarding (to be served here if the replica is gone).
          const body = this.forwards.get(req)?.body;
          if (body) {
            proxyReq.removeHeader('transfer-encoding');
            proxyReq.setHeader('content-length', body.length);
            proxyReq.write(body);
          }
        },
        error: (error, req, res) => {
          this.directory.forget(owner);
          const code = (error as NodeJS.ErrnoException).code;
          this.logger.warn(
            { event: 'cluster.forward_failed', owner, url, err: error.message, code },
            'could not reach the replica holding the session',
          );
          const response = res as ServerResponse;
          if (!('headersSent' in response) || response.headersSent) {
            (res as { destroy?: () => void }).destroy?.();
            return;
          }
          const forward = this.forwards.get(req);
          if (forward && code && NOT_REACHED.has(code)) {
            delete req.headers[FORWARDED_HEADER];
            forward.whenGone();
            return;
          }
          sendError(response, 502, 'the replica holding the session did not answer; retry the request');
        },
      },
    });
    this.proxies.set(url, proxy);
    return proxy;
  }

  close(): void {
    this.agent.destroy();
  }
}

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const code = status === 404 ? ErrorCode.SessionNotFound : ErrorCode.InternalError;
  // The message says what happened to the session, so it is shown at 5xx too.
  sendJsonRpcError(
    res,
    new GatewayError(status, status === 404 ? 'not_found' : 'unavailable', message, { jsonRpcCode: code, headers, expose: true }),
  );
}
