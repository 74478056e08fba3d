import type { GatewayConfig, StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { BackendPool } from './backend-pool.js';
import type { Backend, BackendHooks } from './router.js';
import { ErrorCode, LimitReached } from '../jsonrpc.js';
import { McpSession } from './session.js';

const personKey = (serverName: string, sub: string) => `${serverName}\u0000${sub}`;

const SWEEP_INTERVAL_MS = 30_000;
export const SESSION_IDLE_TIMEOUT_MS = 30 * 60 * 1000;

/** All stdio servers' pools and all live client sessions. */
export class McpBridge {
  private readonly pools = new Map<string, BackendPool>();
  private readonly sessions = new Map<string, McpSession>();
  /** Every session (opening or open) of one person on one server, for limits.sessionsPerPerson. */
  private readonly byPerson = new Map<string, Set<McpSession>>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly processLimit: number;
  private readonly sessionLifetimeMs: number;

  /** `hooks` observe every process and call (metrics, the audit log). */
  constructor(config: GatewayConfig, private readonly logger: Logger, private readonly sessionIdleTimeoutMs = SESSION_IDLE_TIMEOUT_MS, private readonly sessionIdPrefix = '', hooks: BackendHooks = {}) {
    for (const [name, server] of Object.entries(config.mcpServers)) {
      if ('command' in server) this.pools.set(name, new BackendPool(name, server as StdioServerConfig, logger.child({ server: name }), hooks));
    }
    this.processLimit = config.limits.processes;
    this.sessionLifetimeMs = config.limits.sessionLifetime * 1000;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  serves(serverName: string): boolean {
    return this.pools.has(serverName);
  }

  /** A new session and its process; throws LimitReached when a cap leaves no room for it. */
  openSession(serverName: string, sub: string, clientId: string): { session: McpSession; backend: Backend } {
    const pool = this.pools.get(serverName)!;
    const session = new McpSession(sub, serverName, clientId, this.sessionIdPrefix);
    this.makeRoom(pool, session);
    const key = personKey(serverName, sub);
    let mine = this.byPerson.get(key);
    if (!mine) this.byPerson.set(key, mine = new Set());
    mine.add(session);
    return { session, backend: pool.acquire(session) };
  }

  /** The session is initialized: findable by its id, and ended at its maximum lifetime. */
  register(session: McpSession): void {
    this.sessions.set(session.id, session);
    session.lifetimeTimer = setTimeout(() => this.expire(session), Math.min(this.sessionLifetimeMs, 2 ** 31 - 1));
    session.lifetimeTimer.unref();
  }

  private expire(session: McpSession): void {
    this.logger.info({ event: 'mcp.session.expired', server: session.serverName, sub: session.sub, sessionId: session.id.slice(-8) }, 'MCP session reached its maximum lifetime');
    session.answerInFlight(ErrorCode.RequestTimeout, 'the session reached its maximum lifetime (limits.sessionLifetime); start a new session');
    this.closeSession(session);
  }

  /**
   * Applies limits.sessionsPerPerson and the process caps (per server, then gateway-wide) before
   * `session` opens. At a cap the person's own oldest idle session (or process) goes, then a
   * process nobody has a session on; failing that, the caller gets LimitReached.
   */
  private makeRoom(pool: BackendPool, session: McpSession): void {
    const { sessionsPerPerson, processes } = pool.spec.limits;
    const mine = this.byPerson.get(personKey(pool.serverName, session.sub));
    if (mine && mine.size >= sessionsPerPerson) {
      const idle = this.oldestIdle(mine);
      if (!idle) throw new LimitReached(`you already have ${sessionsPerPerson} sessions open on MCP server "${pool.serverName}", all busy (limits.sessionsPerPerson); end one or retry when one is idle`);
      this.evict(idle, 'limits.sessionsPerPerson');
    }
    if (!pool.needsProcess(session)) return;
    while (pool.size >= processes) {
      if (!this.freeProcess([pool], session.sub)) throw new LimitReached(`MCP server "${pool.serverName}" already runs ${processes} processes, all in use (its limits.processes); retry later`);
    }
    const all = [...this.pools.values()];
    while (this.processTotal() >= this.processLimit) {
      if (!this.freeProcess(all, session.sub)) throw new LimitReached(`the gateway already runs ${this.processLimit} MCP server processes, all in use (limits.processes); retry later`);
    }
  }

  /** Open (registered) and neither answering a call nor holding a GET stream. */
  private isIdle(session: McpSession): boolean {
    return !session.busy && this.sessions.has(session.id);
  }

  private oldestIdle(sessions: Iterable<McpSession>): McpSession | undefined {
    let oldest: McpSession | undefined;
    for (const session of sessions) {
      if (this.isIdle(session) && (!oldest || session.lastActivity < oldest.lastActivity)) oldest = session;
    }
    return oldest;
  }

  /**
   * Stops one process among `pools`: the person's own that has gone unused the longest, else the
   * one left without sessions the longest. False when every process is in use.
   */
  private freeProcess(pools: BackendPool[], sub: string): boolean {
    const own = this.ownIdleProcess(pools, sub);
    if (own) {
      const backend = own.pool.backendOf(own.sessions[0]!);
      for (const session of own.sessions) this.evict(session, 'limits.processes');
      if (backend) own.pool.stop(backend);
      return true;
    }
    const sessionless = pools.map((pool) => ({ pool, backend: pool.oldestSessionless() })).filter((c) => c.backend)
      .sort((a, b) => a.backend!.idleSince - b.backend!.idleSince)[0];
    if (!sessionless) return false;
    this.logger.info({ event: 'mcp.process.evicted', server: sessionless.pool.serverName, pid: sessionless.backend!.pid }, 'stopped an MCP server process without sessions to make room (limits.processes)');
    sessionless.pool.stop(sessionless.backend!);
    return true;
  }

  /**
   * The person's process unused the longest: a per-session process whose session is idle, or a
   * per-user process whose sessions all are. Shared processes serve others too and never count.
   */
  private ownIdleProcess(pools: BackendPool[], sub: string): { pool: BackendPool; sessions: McpSession[]; lastActivity: number } | undefined {
    let found: { pool: BackendPool; sessions: McpSession[]; lastActivity: number } | undefined;
    for (const pool of pools) {
      if (pool.spec.isolation === 'shared') continue;
      const mine = [...this.byPerson.get(personKey(pool.serverName, sub)) ?? []];
      const perProcess = pool.spec.isolation === 'per-session' ? mine.map((session) => [session]) : [mine];
      for (const sessions of perProcess) {
        if (sessions.length === 0 || !sessions.every((session) => this.isIdle(session))) continue;
        const lastActivity = Math.max(...sessions.map((session) => session.lastActivity));
        if (!found || lastActivity < found.lastActivity) found = { pool, sessions, lastActivity };
      }
    }
    return found;
  }

  private evict(session: McpSession, limit: string): void {
    this.logger.info({ event: 'mcp.session.evicted', server: session.serverName, sub: session.sub, sessionId: session.id.slice(-8), limit }, `closed the person's oldest idle MCP session to make room (${limit})`);
    this.closeSession(session);
  }

  private processTotal(): number {
    let total = 0;
    for (const pool of this.pools.values()) total += pool.size;
    return total;
  }

  find(sessionId: string): McpSession | undefined {
    return this.sessions.get(sessionId);
  }

  backendOf(session: McpSession): Backend | undefined {
    return this.pools.get(session.serverName)?.backendOf(session);
  }

  /** Ends a session; requests of it still waiting are answered with an error. */
  closeSession(session: McpSession): void {
    this.sessions.delete(session.id);
    const key = personKey(session.serverName, session.sub);
    const mine = this.byPerson.get(key);
    if (mine?.delete(session) && mine.size === 0) this.byPerson.delete(key);
    this.pools.get(session.serverName)?.release(session);
    session.answerInFlight(ErrorCode.RequestTimeout, 'the session was closed');
    session.close();
  }

  /** Expires sessions idle past the timeout, then reaps processes left without sessions. */
  sweep(now = Date.now()): void {
    for (const session of this.sessions.values()) {
      if (!session.busy && now - session.lastActivity > this.sessionIdleTimeoutMs) {
        this.logger.debug({ sessionId: session.id.slice(-8), server: session.serverName }, 'session expired');
        this.closeSession(session);
      }
    }
    for (const pool of this.pools.values()) pool.reap(now);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get processCount(): number {
    let count = 0;
    for (const pool of this.pools.values()) count += pool.processCount;
    return count;
  }

  /** Live sessions and running processes of each stdio server (read when metrics are scraped). */
  stats(): Array<{ server: string; sessions: number; processes: number }> {
    const sessions = new Map<string, number>();
    for (const session of this.sessions.values()) sessions.set(session.serverName, (sessions.get(session.serverName) ?? 0) + 1);
    return [...this.pools].map(([server, pool]) => ({ server, sessions: sessions.get(server) ?? 0, processes: pool.processCount }));
  }

  /** Ends every GET stream so a shutting-down server is not kept open by idle listeners. */
  closeEventStreams(): void {
    for (const session of this.sessions.values()) session.eventStream?.close();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const session of this.sessions.values()) {
      session.answerInFlight(ErrorCode.ServerUnavailable, 'the gateway is shutting down; retry the request');
      session.close();
    }
    this.sessions.clear();
    this.byPerson.clear();
    await Promise.all([...this.pools.values()].map((pool) => pool.closeAll()));
  }
}
