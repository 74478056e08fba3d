// The gateway as a client of a remote Streamable HTTP server (2025 revisions): one POST per
// message, an optional GET stream, and the entry's configured headers. The client's own token
// and headers never get here: every request is built from scratch.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { RemoteServerConfig } from '../../config/schema.js';
import type { JsonRpcMessage } from '../jsonrpc.js';

/** Who the gateway is to the upstream: its session (once it has one) and the revision it negotiated. */
export interface UpstreamSession {
  id?: string;
  protocolVersion?: string;
}

/** One exchange under way: its response once it starts, and the request to abort it with. */
export interface UpstreamExchange {
  request: ClientRequest;
  response: Promise<IncomingMessage>;
}

/** HTTP to one remote server's MCP URL, on kept-alive connections (as the proxy does). */
export class UpstreamHttp {
  private readonly target: URL;
  private readonly agent: HttpAgent;

  constructor(private readonly remote: RemoteServerConfig) {
    this.target = new URL(remote.url);
    this.agent = this.target.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  private headersFor(session: UpstreamSession, extra: Record<string, string>): Record<string, string> {
    return {
      ...this.remote.headers,
      ...extra,
      ...(session.id ? { 'mcp-session-id': session.id } : {}),
      ...(session.protocolVersion ? { 'mcp-protocol-version': session.protocolVersion } : {}),
    };
  }

  /**
   * Sends an HTTP request; `idleMs` ends it when the upstream stays silent that long (progress
   * and events keep it alive, as they keep a call alive at the router).
   */
  private send(method: string, headers: Record<string, string>, body: string | undefined, idleMs: number): UpstreamExchange {
    const request = (this.target.protocol === 'https:' ? httpsRequest : httpRequest)(this.target, {
      method,
      agent: this.agent,
      headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
      request.once('close', () => reject(new Error('the connection closed before an answer')));
    });
    // A rejection nobody waits for yet must not end the process.
    response.catch(() => undefined);
    if (idleMs > 0) request.setTimeout(idleMs, () => request.destroy(new Error(`no answer within ${idleMs / 1000}s`)));
    request.end(body);
    return { request, response };
  }

  /** POSTs one message; the answer is JSON, an event stream or 202. */
  post(message: JsonRpcMessage, session: UpstreamSession, idleMs: number, extra: Record<string, string> = {}): UpstreamExchange {
    const headers = this.headersFor(session, {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...extra,
    });
    return this.send('POST', headers, JSON.stringify(message), idleMs);
  }

  /** Opens the session's standalone event stream (messages of no request). */
  listen(session: UpstreamSession): UpstreamExchange {
    return this.send('GET', this.headersFor(session, { accept: 'text/event-stream' }), undefined, 0);
  }

  /** Ends the upstream session (best effort: the upstream may have forgotten it already). */
  async end(session: UpstreamSession, timeoutMs: number): Promise<void> {
    if (!session.id) return;
    const { request, response } = this.send('DELETE', this.headersFor(session, {}), undefined, timeoutMs);
    try {
      (await response).resume();
    } catch {
      request.destroy();
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
