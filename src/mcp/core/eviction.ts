import { LimitReached } from '../jsonrpc.js';
import type { ProcessPool } from './process-pool.js';
import type { McpSession } from './session.js';

/** What the eviction rules read of the bridge, and what they may do to it. */
export interface EvictionContext {
  /** Every server's pool of processes. */
  pools(): ProcessPool[];
  /** limits.processes: processes of all stdio servers at once. */
  processLimit(): number;
  /** Every session (opening or open) of one person on one server. */
  sessionsOf(serverName: string, sub: string): Iterable<McpSession>;
  /** Open, and neither answering a call nor holding a stream. */
  isIdle(session: McpSession): boolean;
  /** Closes a session to make room, naming the limit that asked for it. */
  evict(session: McpSession, limit: string): void;
  /** A process nobody had a session on was stopped to make room. */
  processStopped(serverName: string, pid: number | undefined): void;
}

/**
 * Applies limits.sessionsPerPerson and the process caps (per server, then gateway-wide) before
 * `session` opens. At a cap the person's own oldest idle session (or process) goes, then a
 * process nobody has a session on; failing that, LimitReached. A scope of the modern wire is no
 * session: only the process caps apply to it.
 */
export function makeRoom(context: EvictionContext, pool: ProcessPool, session: McpSession): void {
  const { sessionsPerPerson, processes } = pool.spec.limits;
  const mine = session.stateless ? undefined : new Set(context.sessionsOf(pool.serverName, session.sub));
  if (mine && mine.size >= sessionsPerPerson) {
    const idle = oldestIdle(mine, (candidate) => context.isIdle(candidate));
    if (!idle)
      throw new LimitReached(
        `you already have ${sessionsPerPerson} sessions open on MCP server "${pool.serverName}", all busy ` +
          '(limits.sessionsPerPerson); end one or retry when one is idle',
      );
    context.evict(idle, 'limits.sessionsPerPerson');
  }
  if (!pool.needsProcess(session) || pool.remote) return;
  while (pool.size >= processes) {
    if (!freeProcess(context, [pool], session.sub))
      throw new LimitReached(
        `MCP server "${pool.serverName}" already runs ${processes} processes, all in use (its limits.processes); retry later`,
      );
  }
  const all = context.pools().filter((each) => !each.remote);
  const limit = context.processLimit();
  while (all.reduce((total, each) => total + each.size, 0) >= limit) {
    if (!freeProcess(context, all, session.sub))
      throw new LimitReached(`the gateway already runs ${limit} MCP server processes, all in use (limits.processes); retry later`);
  }
}

/** The idle session among `sessions` unused the longest. */
export function oldestIdle(sessions: Iterable<McpSession>, isIdle: (session: McpSession) => boolean): McpSession | undefined {
  let oldest: McpSession | undefined;
  for (const session of sessions) {
    if (isIdle(session) && (!oldest || session.lastActivity < oldest.lastActivity)) oldest = session;
  }
  return oldest;
}

/**
 * Stops one process among `pools`: the person's own that has gone unused the longest, else the
 * one left without sessions the longest. False when every process is in use.
 */
export function freeProcess(context: EvictionContext, pools: ProcessPool[], sub: string): boolean {
  const own = ownIdleProcess(context, pools, sub);
  if (own) {
    const router = own.pool.routerOf(own.sessions[0]!);
    for (const session of own.sessions) context.evict(session, 'limits.processes');
    if (router) own.pool.stop(router);
    return true;
  }
  const sessionless = pools
    .map((pool) => ({ pool, router: pool.oldestSessionless() }))
    .filter((c) => c.router)
    .sort((a, b) => a.router!.idleSince - b.router!.idleSince)[0];
  if (!sessionless) return false;
  context.processStopped(sessionless.pool.serverName, sessionless.router!.pid);
  sessionless.pool.stop(sessionless.router!);
  return true;
}

/**
 * The person's process unused the longest: a per-session process whose session is idle, or a
 * per-user process whose sessions all are. Shared processes serve others too and never count.
 */
function ownIdleProcess(
  context: EvictionContext,
  pools: ProcessPool[],
  sub: string,
): { pool: ProcessPool; sessions: McpSession[]; lastActivity: number } | undefined {
  let found: { pool: ProcessPool; sessions: McpSession[]; lastActivity: number } | undefined;
  for (const pool of pools) {
    if (pool.spec.isolation === 'shared') continue;
    const mine = [...context.sessionsOf(pool.serverName, sub)];
    const perProcess = pool.spec.isolation === 'per-session' ? mine.map((session) => [session]) : [mine];
    for (const sessions of perProcess) {
      if (sessions.length === 0 || !sessions.every((session) => context.isIdle(session))) continue;
      // Requests of the modern wire on it are use too.
      if ((pool.routerOf(sessions[0]!)?.sessions.size ?? 0) > sessions.length) continue;
      const lastActivity = Math.max(...sessions.map((session) => session.lastActivity));
      if (!found || lastActivity < found.lastActivity) found = { pool, sessions, lastActivity };
    }
  }
  return found;
}
