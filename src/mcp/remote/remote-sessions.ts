import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log/logger.js';
import { LimitReached } from '../jsonrpc.js';

/**
 * A session of a remote (`url`) server as the gateway knows it. The client only ever sees `id`,
 * issued here; `upstreamId` is what the remote server issued and never leaves the gateway.
 */
export interface RemoteSession {
  readonly id: string;
  readonly upstreamId: string;
  readonly serverName: string;
  readonly sub: string;
  readonly clientId: string;
  readonly createdAt: number;
  lastActivity: number;
  /** Ends each open GET stream of this session (they make it busy). */
  readonly streams: Set<() => void>;
}

const SWEEP_INTERVAL_MS = 30_000;
const personKey = (serverName: string, sub: string) => `${serverName}\u0000${sub}`;

/**
 * Who owns each remote session, in memory. The id carries this replica's prefix, so with replicas
 * a request reaching another replica is forwarded here (src/mcp/cluster/session-forwarder.ts) and no
 * shared store is needed. Sessions expire when idle and at their maximum lifetime, like stdio ones.
 */
export class RemoteSessions {
  private readonly sessions = new Map<string, RemoteSession>();
  private readonly byPerson = new Map<string, Set<RemoteSession>>();
  /** Initializes on their way to the upstream, per person and server: they count toward the cap. */
  private readonly opening = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly sessionsPerPerson: (serverName: string) => number,
    private readonly logger: Logger,
    private readonly idPrefix: string,
    private readonly idleTimeoutMs: number,
    readonly lifetimeMs: number,
  ) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** The session with this id when it belongs to this person, client and server and is still alive. */
  find(id: string, serverName: string, sub: string, clientId: string, now = Date.now()): RemoteSession | undefined {
    const session = this.sessions.get(id);
    if (!session || session.sub !== sub || session.clientId !== clientId || session.serverName !== serverName) return undefined;
    if (this.expired(session, now)) {
      this.close(session);
      return undefined;
    }
    session.lastActivity = now;
    return session;
  }

  /**
   * Before an initialize: at limits.sessionsPerPerson the person's oldest idle session goes, else
   * LimitReached. The new session is counted from now until `release` (called when the exchange
   * ends): parallel initializes cannot all pass before the upstream has answered any of them.
   */
  makeRoom(serverName: string, sub: string): () => void {
    const key = personKey(serverName, sub);
    this.evictIfFull(serverName, sub, key);
    this.opening.set(key, (this.opening.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.opening.get(key) ?? 1) - 1;
      if (left > 0) this.opening.set(key, left);
      else this.opening.delete(key);
    };
  }

  private evictIfFull(serverName: string, sub: string, key: string): void {
    const mine = this.byPerson.get(key);
    const limit = this.sessionsPerPerson(serverName);
    if ((mine?.size ?? 0) + (this.opening.get(key) ?? 0) < limit) return;
    if (!mine) throw this.limitReached(serverName, limit);
    let oldest: RemoteSession | undefined;
    for (const session of mine) {
      if (session.streams.size === 0 && (!oldest || session.lastActivity < oldest.lastActivity)) oldest = session;
    }
    if (!oldest) throw this.limitReached(serverName, limit);
    this.logger.info(
      { event: 'mcp.session.evicted', server: serverName, sub, sessionId: oldest.id.slice(-8), limit: 'limits.sessionsPerPerson' },
      "forgot the person's oldest idle remote MCP session to make room",
    );
    this.close(oldest);
  }

  private limitReached(serverName: string, limit: number): LimitReached {
    return new LimitReached(
      `you already have ${limit} sessions open or opening on MCP server "${serverName}", all busy ` +
        '(limits.sessionsPerPerson); end one or retry when one is idle',
    );
  }

  /** Records a session the upstream just opened for this person and client. */
  open(upstreamId: string, serverName: string, sub: string, clientId: string): RemoteSession {
    const now = Date.now();
    const session: RemoteSession = {
      id: `${this.idPrefix}${randomBytes(24).toString('base64url')}`,
      upstreamId,
      serverName,
      sub,
      clientId,
      createdAt: now,
      lastActivity: now,
      streams: new Set(),
    };
    this.sessions.set(session.id, session);
    const key = personKey(serverName, sub);
    let mine = this.byPerson.get(key);
    if (!mine) this.byPerson.set(key, (mine = new Set()));
    mine.add(session);
    return session;
  }

  /** Ends every open stream (shutdown); the sessions stay, for requests still draining. */
  endStreams(): void {
    for (const session of this.sessions.values()) for (const end of [...session.streams]) end();
  }

  /** Forgets a session and ends its open streams. */
  close(session: RemoteSession): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    const key = personKey(session.serverName, session.sub);
    const mine = this.byPerson.get(key);
    if (mine?.delete(session) && mine.size === 0) this.byPerson.delete(key);
    for (const end of [...session.streams]) end();
  }

  private expired(session: RemoteSession, now: number): boolean {
    if (now - session.createdAt >= this.lifetimeMs) return true;
    return session.streams.size === 0 && now - session.lastActivity > this.idleTimeoutMs;
  }

  sweep(now = Date.now()): void {
    for (const session of this.sessions.values()) if (this.expired(session, now)) this.close(session);
  }

  get size(): number {
    return this.sessions.size;
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}
