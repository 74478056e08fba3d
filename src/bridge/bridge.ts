import type { GatewayConfig, StdioServerConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { BackendPool } from './backend-pool.js';
import type { Backend, BackendHooks } from './backend.js';
import { ErrorCode } from './jsonrpc.js';
import { McpSession } from './session.js';

const SWEEP_INTERVAL_MS = 30_000;
export const SESSION_IDLE_TIMEOUT_MS = 30 * 60 * 1000;

/** All stdio servers' pools and all live client sessions. */
export class McpBridge {
  private readonly pools = new Map<string, BackendPool>();
  private readonly sessions = new Map<string, McpSession>();
  private readonly sweeper: NodeJS.Timeout;

  /** `hooks` observe every process and call (metrics, the audit log). */
  constructor(config: GatewayConfig, private readonly logger: Logger, private readonly sessionIdleTimeoutMs = SESSION_IDLE_TIMEOUT_MS, private readonly sessionIdPrefix = '', hooks: BackendHooks = {}) {
    for (const [name, server] of Object.entries(config.mcpServers)) {
      if ('command' in server) this.pools.set(name, new BackendPool(name, server as StdioServerConfig, logger.child({ server: name }), hooks));
    }
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  serves(serverName: string): boolean {
    return this.pools.has(serverName);
  }

  openSession(serverName: string, sub: string, clientId: string): { session: McpSession; backend: Backend } {
    const pool = this.pools.get(serverName)!;
    const session = new McpSession(sub, serverName, clientId, this.sessionIdPrefix);
    return { session, backend: pool.acquire(session) };
  }

  register(session: McpSession): void {
    this.sessions.set(session.id, session);
  }

  find(sessionId: string): McpSession | undefined {
    return this.sessions.get(sessionId);
  }

  backendOf(session: McpSession): Backend | undefined {
    return this.pools.get(session.serverName)?.backendOf(session);
  }

  closeSession(session: McpSession): void {
    this.sessions.delete(session.id);
    this.pools.get(session.serverName)?.release(session);
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
    await Promise.all([...this.pools.values()].map((pool) => pool.closeAll()));
  }
}
