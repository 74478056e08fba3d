// The MCP core's face to transports: open, find, admit and close sessions and the scopes of
// modern-era requests, within the limits on sessions and processes (the rules that make room are
// in eviction.ts). Over 300 lines with its comments, under 300 of code.
import type { GatewayConfig, RemoteServerConfig } from '../../config/schema.js';
import { clientInfoForLog } from '../../log/bound.js';
import type { Logger } from '../../log/logger.js';
import { GatewayError } from '../../web/errors.js';
import {
  ErrorCode,
  errorResponse,
  isNotification,
  isRequest,
  isResponse,
  LimitReached,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../jsonrpc.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../protocol.js';
import { makeRoom, type EvictionContext } from './eviction.js';
import { NativePools } from './native-pools.js';
import { ProcessPool, remotePoolSpec } from './process-pool.js';
import { SecretGate, type PersonalDependencies } from './secret-gate.js';
import type { BridgeHooks } from './hooks.js';
import type { ProcessFactory, Router } from './router.js';
import { McpSession, type ClientCapabilities, type ResumedSession, type SessionOwner } from './session.js';
import type { SessionRecords } from './session-records.js';
import type { MessageSink } from './sink.js';

const personKey = (serverName: string, sub: string) => `${serverName}\u0000${sub}`;

const SWEEP_INTERVAL_MS = 30_000;
export const SESSION_IDLE_TIMEOUT_MS = 30 * 60 * 1000;
const MAX_IN_FLIGHT_PER_SESSION = 256;

/** The backend of a remote (`url`) server for each router: the remote side lives outside the core. */
export type RemoteBackendFactory = (serverName: string, remote: RemoteServerConfig, logger: Logger) => ProcessFactory;

/** What opening a session gave: the answer to the client's initialize, and the session when one opened. */
export interface Opened {
  session?: McpSession;
  response: JsonRpcResponse;
}

/**
 * The MCP core: every stdio server's processes and every live client session, and the lifecycle
 * and limits between them. Transports call it with messages (initialize, find, admit, receive,
 * closeSession) and give each session a sink to be written to; it never sees HTTP.
 */
export class McpBridge {
  private readonly pools = new Map<string, ProcessPool>();
  private readonly sessions = new Map<string, McpSession>();
  /** Every session (opening or open) of one person on one server, for limits.sessionsPerPerson. */
  private readonly byPerson = new Map<string, Set<McpSession>>();
  /** Scopes of modern-era requests in progress, answered at shutdown like sessions. */
  private readonly scopes = new Set<McpSession>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly processLimit: number;
  private readonly eviction: EvictionContext = {
    pools: () => [...this.pools.values()],
    processLimit: () => this.processLimit,
    sessionsOf: (serverName, sub) => this.byPerson.get(personKey(serverName, sub)) ?? [],
    isIdle: (session) => this.isIdle(session),
    evict: (session, limit) => this.evict(session, limit),
    processStopped: (serverName, pid) =>
      this.logger.info(
        { event: 'mcp.process.evicted', server: serverName, pid },
        'stopped an MCP server process without sessions to make room (limits.processes)',
      ),
  };
  private readonly sessionLifetimeMs: number;
  /** Each person's secrets and folders: what their processes start with and their calls need. */
  private readonly secretGate?: SecretGate;
  /** Modern-era processes of the stdio servers that speak 2026-07-28 themselves. */
  readonly native: NativePools;

  /**
   * `hooks` observe every process and call (metrics, the audit log). With `remoteBackends`, remote
   * servers are backends too, for the modern wire (their 2025 sessions are proxied, not bridged).
   */
  constructor(
    config: GatewayConfig,
    private readonly logger: Logger,
    private readonly sessionIdleTimeoutMs = SESSION_IDLE_TIMEOUT_MS,
    private readonly sessionIdPrefix = '',
    private readonly hooks: BridgeHooks = {},
    /** The store's copy of each session, so sessions survive a restart or their replica (session-records.ts). */
    private readonly records?: SessionRecords,
    remoteBackends?: RemoteBackendFactory,
    personal?: PersonalDependencies,
  ) {
    for (const [name, server] of Object.entries(config.mcpServers)) {
      const serverLogger = logger.child({ server: name });
      if ('command' in server) this.pools.set(name, new ProcessPool(name, server, serverLogger, hooks, undefined, personal));
      else if (remoteBackends)
        this.pools.set(
          name,
          new ProcessPool(
            name,
            remotePoolSpec(server, SESSION_IDLE_TIMEOUT_MS / 1000),
            serverLogger,
            hooks,
            remoteBackends(name, server, serverLogger),
          ),
        );
    }
    this.native = new NativePools(config, logger, hooks, sessionIdPrefix);
    this.secretGate = personal && new SecretGate(personal, this.pools, logger, hooks);
    this.processLimit = config.limits.processes;
    this.sessionLifetimeMs = config.limits.sessionLifetime * 1000;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** Whether the server's 2025 sessions are the bridge's (a stdio server's). */
  serves(serverName: string): boolean {
    const pool = this.pools.get(serverName);
    return !!pool && !pool.remote;
  }

  /** Whether the server's modern (stateless) requests can run here: a stdio server, or a remote one with a backend. */
  servesModern(serverName: string): boolean {
    return this.pools.has(serverName);
  }

  /**
   * A client's initialize: opens a session (within the limits), starts or reuses its process and
   * answers with the process's capabilities at the protocol revision both sides speak. A session
   * `resumed` from its record (session-resume.ts) opens again this way, under its id.
   */
  async initialize(
    serverName: string,
    owner: SessionOwner,
    request: JsonRpcRequest,
    sink: MessageSink,
    resumed?: ResumedSession,
  ): Promise<Opened> {
    let opened: { session: McpSession; router: Router };
    try {
      opened = this.openSession(serverName, owner, sink, resumed);
    } catch (error) {
      if (!(error instanceof LimitReached)) throw error;
      this.logger.warn(
        { event: 'mcp.session.refused', server: serverName, ...owner, reason: error.message },
        'MCP session refused: a limit is reached',
      );
      return { response: errorResponse(request.id, ErrorCode.LimitReached, error.message) };
    }
    const { session, router } = opened;
    // Before the process starts: a per-session process is initialized as this client.
    session.clientCapabilities = (request.params?.capabilities ?? {}) as ClientCapabilities;
    session.clientInfo = request.params?.clientInfo;
    try {
      await router.ensureStarted();
    } catch (error) {
      this.closeSession(session);
      return { response: errorResponse(request.id, ErrorCode.ServerUnavailable, (error as Error).message) };
    }
    const requested = request.params?.protocolVersion;
    session.protocolVersion =
      typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : SUPPORTED_PROTOCOL_VERSIONS[0]!;
    this.register(session);
    // Written before the client learns the id, so no request on it can outrun its record.
    if (this.pools.get(serverName)!.spec.isolation !== 'per-session') await this.records?.save(session);
    this.logger.info(
      {
        event: 'mcp.session',
        server: serverName,
        sub: owner.sub,
        email: this.hooks.personOf?.(owner.sub).email,
        clientId: owner.clientId,
        sessionId: session.id.slice(-8),
        protocolVersion: session.protocolVersion,
        clientInfo: clientInfoForLog(request.params?.clientInfo),
        resumed: resumed ? true : undefined,
      },
      resumed ? 'MCP session resumed from its record' : 'MCP session opened',
    );
    return {
      session,
      response: { jsonrpc: '2.0', id: request.id, result: { ...router.initializeResult, protocolVersion: session.protocolVersion } },
    };
  }

  /** A new session and its process; throws LimitReached when a cap leaves no room for it. */
  private openSession(serverName: string, owner: SessionOwner, sink: MessageSink, resumed?: ResumedSession) {
    const pool = this.pools.get(serverName)!;
    const session = new McpSession(owner, serverName, sink, this.sessionIdPrefix, false, resumed);
    makeRoom(this.eviction, pool, session);
    const key = personKey(serverName, owner.sub);
    let mine = this.byPerson.get(key);
    if (!mine) this.byPerson.set(key, (mine = new Set()));
    mine.add(session);
    return { session, router: pool.acquire(session) };
  }

  /** The session is initialized: findable by its id, and ended at its maximum lifetime. */
  private register(session: McpSession): void {
    this.sessions.set(session.id, session);
    const left = session.createdAt + this.sessionLifetimeMs - Date.now();
    session.lifetimeTimer = setTimeout(() => this.expire(session), Math.max(0, Math.min(left, 2 ** 31 - 1)));
    session.lifetimeTimer.unref();
  }

  private expire(session: McpSession): void {
    this.logger.info(
      { event: 'mcp.session.expired', server: session.serverName, sub: session.sub, sessionId: session.id.slice(-8) },
      'MCP session reached its maximum lifetime',
    );
    session.answerInFlight(
      ErrorCode.RequestTimeout,
      'the session reached its maximum lifetime (limits.sessionLifetime); start a new session',
    );
    this.closeSession(session);
  }

  /**
   * The scope of one modern-era request (or subscription stream): a stateless session on the
   * process the server's isolation gives this person, started if need be within limits.processes.
   * It is no session: never findable, never counted by limits.sessionsPerPerson. Close it with
   * closeSession once its answer is out; until then the process is in use.
   */
  async openScope(serverName: string, owner: SessionOwner, capabilities: ClientCapabilities, sink: MessageSink): Promise<McpSession> {
    const pool = this.pools.get(serverName)!;
    const scope = new McpSession(owner, serverName, sink, this.sessionIdPrefix, true);
    scope.clientCapabilities = capabilities;
    makeRoom(this.eviction, pool, scope);
    const router = pool.acquire(scope);
    this.scopes.add(scope);
    if (router.ready) return scope;
    try {
      await router.ensureStarted();
    } catch (error) {
      this.closeSession(scope);
      throw error;
    }
    return scope;
  }

  /** What the process behind a scope said of itself when the gateway initialized it. */
  initializeResultOf(scope: McpSession): Record<string, unknown> | undefined {
    return this.pools.get(scope.serverName)?.routerOf(scope)?.initializeResult;
  }

  /** A subscription stream's scope wants resources/updated for these URIs (the process is subscribed for it). */
  watch(scope: McpSession, uris: string[]): void {
    this.pools.get(scope.serverName)?.routerOf(scope)?.watchers.watch(scope, uris);
  }

  /** Open (registered) and neither answering a call nor holding a GET stream. */
  private isIdle(session: McpSession): boolean {
    return !session.busy && this.sessions.has(session.id);
  }

  private evict(session: McpSession, limit: string): void {
    this.logger.info(
      { event: 'mcp.session.evicted', server: session.serverName, sub: session.sub, sessionId: session.id.slice(-8), limit },
      `closed the person's oldest idle MCP session to make room (${limit})`,
    );
    this.closeSession(session);
  }

  /** The session with this id when it is the caller's (same person, client and server); else none, alike. */
  find(sessionId: string, owner: SessionOwner, serverName: string): McpSession | undefined {
    const session = this.sessions.get(sessionId);
    if (!session || session.sub !== owner.sub || session.clientId !== owner.clientId || session.serverName !== serverName) return undefined;
    return session;
  }

  /** Whether the session may take these requests now: throws (429 or 400) when it may not. */
  admit(session: McpSession, requests: JsonRpcRequest[]): void {
    if (session.inFlightCount + requests.length > MAX_IN_FLIGHT_PER_SESSION) {
      throw new GatewayError(429, 'too_many_requests', `too many requests in flight on this session (limit ${MAX_IN_FLIGHT_PER_SESSION})`);
    }
    const ids = new Set(requests.map((request) => request.id));
    if (ids.size !== requests.length || requests.some((request) => session.isInFlight(request.id))) {
      throw new GatewayError(400, 'invalid_request', 'Invalid Request: a request with this id is already in flight on this session');
    }
  }

  /** Messages from the client, admitted: requests go to the process and are answered through the sink. */
  receive(session: McpSession, messages: JsonRpcMessage[]): void {
    const router = this.pools.get(session.serverName)!.routerOf(session)!;
    session.touch();
    for (const message of messages) {
      if (isRequest(message)) {
        session.track(message.id);
        if (!this.secretGate?.hold(session, message, router)) router.request(session, message);
        // The session's subscriptions are in its record: a resumed session gets them back.
        if (session.recordedAt && /^resources\/(un)?subscribe$/.test(message.method)) void this.records?.save(session);
      } else if (isNotification(message)) {
        if (!this.secretGate?.cancelHeld(session, message)) router.notify(session, message);
      } else if (isResponse(message)) {
        if (!this.secretGate?.takeResponse(session, message)) router.respond(session, message);
      }
    }
  }

  /** A resumed session's resource subscriptions, made again on its (new) process. */
  resubscribe(session: McpSession, uris: string[]): void {
    this.pools.get(session.serverName)?.routerOf(session)?.watchers.resubscribe(session, uris);
  }

  /** Ends a session; requests of it still waiting are answered with an error. */
  closeSession(session: McpSession): void {
    if (!session.stateless) return void this.endSession(session);
    // A scope has no record and no place among sessions: it closes at once (the modern wire's hot path).
    this.scopes.delete(session);
    this.pools.get(session.serverName)?.release(session);
    session.answerInFlight(ErrorCode.RequestTimeout, 'the request ended');
    session.close();
  }

  /** closeSession, settled once the session's record is deleted too (it never rejects): a DELETE is answered then. */
  async endSession(session: McpSession): Promise<void> {
    const open = this.sessions.get(session.id) === session && this.sessions.delete(session.id);
    const forgotten = open ? this.records?.forget(session.id) : undefined;
    this.scopes.delete(session);
    const key = personKey(session.serverName, session.sub);
    const mine = this.byPerson.get(key);
    if (mine?.delete(session) && mine.size === 0) this.byPerson.delete(key);
    this.pools.get(session.serverName)?.release(session);
    session.answerInFlight(ErrorCode.RequestTimeout, 'the session was closed');
    session.close();
    await forgotten;
  }

  /** Expires sessions idle past the timeout, then reaps processes left without sessions. */
  sweep(now = Date.now()): void {
    for (const session of this.sessions.values()) {
      if (!session.busy && now - session.lastActivity > this.sessionIdleTimeoutMs) {
        this.logger.debug({ sessionId: session.id.slice(-8), server: session.serverName }, 'session expired');
        this.closeSession(session);
      }
    }
    this.records?.refresh(this.sessions.values(), now);
    for (const pool of this.pools.values()) pool.reap(now);
    this.native.reap(now);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get processCount(): number {
    return [...this.pools.values()].reduce((count, pool) => count + pool.processCount, this.native.processCount);
  }

  /** Live sessions and running processes of each stdio server (read when metrics are scraped). */
  stats(): Array<{ server: string; sessions: number; processes: number }> {
    const sessions = new Map<string, number>();
    for (const session of this.sessions.values()) sessions.set(session.serverName, (sessions.get(session.serverName) ?? 0) + 1);
    return [...this.pools]
      .filter(([, pool]) => !pool.remote)
      .map(([server, pool]) => ({ server, sessions: sessions.get(server) ?? 0, processes: pool.processCount }));
  }

  /** Ends every GET stream so a shutting-down server is not kept open by idle listeners. */
  closeEventStreams(): void {
    for (const session of this.sessions.values()) session.sink.stopListening();
    for (const scope of this.scopes) scope.sink.stopListening();
    this.native.stopListening();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.secretGate?.close();
    for (const session of [...this.sessions.values(), ...this.scopes]) {
      session.answerInFlight(ErrorCode.ServerUnavailable, 'the gateway is shutting down; retry the request');
      session.close();
    }
    this.sessions.clear();
    this.scopes.clear();
    this.byPerson.clear();
    await Promise.all([...this.pools.values()].map((pool) => pool.closeAll()).concat(this.native.closeAll()));
  }
}
