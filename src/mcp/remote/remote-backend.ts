// A remote (`url`) server as a backend of the MCP core, like a process: the gateway holds a 2025
// Streamable HTTP session to it and passes messages both ways, so the router (and the modern
// wire above it: translation, MRTR, listen) serves remote servers as it serves stdio ones.
import type { RemoteServerConfig } from '../../config/schema.js';
import type { RemoteBackendFactory } from '../core/bridge.js';
import type { Logger } from '../../log/logger.js';
import { ErrorCode, errorResponse, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from '../jsonrpc.js';
import { GATEWAY_CLIENT_INFO, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '../protocol.js';
import { GATEWAY_CLIENT_CAPABILITIES } from '../process/backend-client.js';
import type { ProcessHandle, ProcessListener } from '../process/supervisor.js';
import { readMessages } from './sse-reader.js';
import { UpstreamHttp, type UpstreamExchange, type UpstreamSession } from './upstream-http.js';

const CONNECT_TIMEOUT_MS = 30_000;
const END_TIMEOUT_MS = 2_000;
const EVENTS_RETRY_MS = 1_000;

class UpstreamUnavailable extends Error {}

/** The bridge's backends for remote servers: one RemoteBackend per router (per person). */
export const remoteBackends: RemoteBackendFactory = (serverName, remote, logger) => (listener, allocateId) =>
  new RemoteBackend(serverName, remote, logger, listener, allocateId);

/**
 * One upstream session of a remote server, opened (initialize, notifications/initialized) on first
 * use with the entry's configured headers, never the client's token. Each message is POSTed;
 * what the upstream sends back on a POST's stream belongs to that request, what comes on the GET
 * stream belongs to none. An upstream that forgets the session gets a new one, and the message
 * it refused is sent once more.
 */
export class RemoteBackend implements ProcessHandle {
  readonly pid = undefined;
  initializeResult?: Record<string, unknown>;
  private session?: UpstreamSession;
  private starting?: Promise<void>;
  private closed = false;
  private readonly http: UpstreamHttp;
  /** POSTs still carrying a request's answer, by the request's id: a cancel ends them. */
  private readonly open = new Map<JsonRpcId, UpstreamExchange>();
  private events?: UpstreamExchange;
  /** Requests whose POST the gateway ended after cancelling them. */
  private readonly cancelled = new Set<JsonRpcId>();
  private readonly idleMs: number;

  constructor(
    private readonly serverName: string,
    remote: RemoteServerConfig,
    private readonly logger: Logger,
    private readonly listener: ProcessListener,
    private readonly allocateId: () => number,
  ) {
    this.http = new UpstreamHttp(remote);
    this.idleMs = remote.callTimeout * 1000;
  }

  get ready(): boolean {
    return !!this.session && !this.starting && !this.closed;
  }

  ensureStarted(): Promise<void> {
    if (this.closed) return Promise.reject(new UpstreamUnavailable(`remote MCP server "${this.serverName}" is shutting down`));
    if (this.ready) return Promise.resolve();
    this.starting ??= this.connect().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** Opens the upstream session: initialize, then notifications/initialized, then the GET stream. */
  private async connect(): Promise<void> {
    const id = this.allocateId();
    const params = {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities: GATEWAY_CLIENT_CAPABILITIES,
      clientInfo: GATEWAY_CLIENT_INFO,
    };
    try {
      const opening: UpstreamSession = {};
      const { status, answer, sessionId } = await this.exchange(
        { jsonrpc: '2.0', id, method: 'initialize', params },
        opening,
        id,
        CONNECT_TIMEOUT_MS,
      );
      if (!answer) throw new Error(`initialize was answered with HTTP ${status} and no result`);
      if (answer.error) throw new Error(`${answer.error.message} (code ${answer.error.code})`);
      const result = (answer.result ?? {}) as Record<string, unknown>;
      const version = typeof result.protocolVersion === 'string' ? result.protocolVersion : LATEST_PROTOCOL_VERSION;
      if (!SUPPORTED_PROTOCOL_VERSIONS.includes(version)) throw new Error(`it answered initialize with protocol ${version}`);
      const session: UpstreamSession = { id: sessionId, protocolVersion: version };
      // Some servers register what depends on the client's capabilities on this notification: wait for it.
      await this.exchange({ jsonrpc: '2.0', method: 'notifications/initialized' }, session, undefined, CONNECT_TIMEOUT_MS);
      if (this.closed) throw new UpstreamUnavailable('closed while connecting');
      this.session = session;
      this.initializeResult = result;
      this.logger.info({ server: this.serverName, serverInfo: result.serverInfo, protocolVersion: version }, 'remote MCP session opened');
      this.listen(session);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn({ server: this.serverName, err: reason }, 'remote MCP server could not be initialized');
      throw new UpstreamUnavailable(`remote MCP server "${this.serverName}" is unreachable or refused the gateway: ${reason}`);
    }
  }

  /**
   * POSTs one message and reads what comes back, handing every message but `awaited`'s answer to
   * the router (as related to `awaited`). Resolves with that answer, when one came.
   */
  private async exchange(
    message: JsonRpcMessage,
    session: UpstreamSession,
    awaited: JsonRpcId | undefined,
    idleMs: number,
    deliverAnswer = false,
  ): Promise<{ status: number; answer?: JsonRpcResponse; sessionId?: string }> {
    const exchange = this.http.post(message, session, idleMs);
    if (awaited !== undefined) this.open.set(awaited, exchange);
    try {
      const res = await exchange.response;
      let answer: JsonRpcResponse | undefined;
      await readMessages(res, (incoming) => {
        if (awaited !== undefined && isResponse(incoming) && incoming.id === awaited) {
          answer = incoming;
          if (deliverAnswer) this.listener.message(incoming);
        } else this.listener.message(incoming, awaited === undefined ? {} : { relatedTo: awaited });
      });
      const sessionId = res.headers['mcp-session-id'];
      return { status: res.statusCode ?? 0, answer, sessionId: typeof sessionId === 'string' ? sessionId : undefined };
    } finally {
      if (awaited !== undefined && this.open.get(awaited) === exchange) this.open.delete(awaited);
    }
  }

  send(message: JsonRpcMessage): boolean {
    const session = this.session;
    if (!session || this.closed) return false;
    void this.deliver(message, session, true);
    if ('method' in message && message.method === 'notifications/cancelled') this.endCancelled(message.params?.requestId);
    return true;
  }

  /** A cancelled request's POST ends once the cancel is on its way: its answer will never come. */
  private endCancelled(requestId: unknown): void {
    const exchange = this.open.get(requestId as JsonRpcId);
    if (!exchange) return;
    this.open.delete(requestId as JsonRpcId);
    this.cancelled.add(requestId as JsonRpcId);
    setImmediate(() => exchange.request.destroy());
  }

  /** Sends one message; a request is answered whatever happens (the upstream's answer, or an error saying why not). */
  private async deliver(message: JsonRpcMessage, session: UpstreamSession, again: boolean): Promise<void> {
    const requestId = isRequest(message) ? message.id : undefined;
    let failure: string;
    try {
      const { status, answer } = await this.exchange(message, session, requestId, this.idleMs, true);
      if (answer || (requestId === undefined && status >= 200 && status < 300)) {
        if (requestId !== undefined) this.cancelled.delete(requestId);
        return;
      }
      if (status === 404 && session.id && again && !this.closed) {
        // The upstream forgot the session (restarted, expired): a new one, and this message once more.
        this.forget(session);
        await this.ensureStarted();
        return await this.deliver(message, this.session!, false);
      }
      failure = `answered HTTP ${status}`;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    // A cancelled request's POST was ended on purpose; nobody waits for its answer.
    if (this.closed || (requestId !== undefined && this.cancelled.delete(requestId))) return;
    this.logger.warn({ server: this.serverName, err: failure }, 'remote MCP server did not take a message');
    if (requestId !== undefined)
      this.listener.message(errorResponse(requestId, ErrorCode.InternalError, `remote MCP server "${this.serverName}" ${failure}`));
  }

  private forget(session: UpstreamSession): void {
    if (this.session !== session) return;
    this.session = undefined;
    this.events?.request.destroy();
    this.events = undefined;
  }

  /** The GET stream: messages of no request (list changes, resource updates, unrelated requests). */
  private listen(session: UpstreamSession): void {
    if (this.closed || this.session !== session) return;
    const events = this.http.listen(session);
    this.events = events;
    events.response.then(
      async (res) => {
        if (res.statusCode !== 200) return void res.resume(); // no GET stream on this server: nothing to hear
        await readMessages(res, (incoming) => this.listener.message(incoming, {}));
        this.listenAgain(session, events);
      },
      () => this.listenAgain(session, events),
    );
  }

  private listenAgain(session: UpstreamSession, ended: UpstreamExchange): void {
    if (this.events !== ended || this.closed || this.session !== session) return;
    setTimeout(() => this.listen(session), EVENTS_RETRY_MS).unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const session = this.session;
    this.session = undefined;
    this.events?.request.destroy();
    for (const exchange of this.open.values()) exchange.request.destroy();
    this.open.clear();
    if (session) await this.http.end(session, END_TIMEOUT_MS);
    this.http.close();
  }
}
