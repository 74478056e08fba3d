import type { RemoteServerConfig, StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import type { OpeningClient } from '../process/backend-client.js';
import { secretsOfProcess } from '../../config/person-templates.js';
import { personalSpec, type PersonalDependencies } from '../process/personal-spec.js';
import { StdioBackend } from '../process/stdio-backend.js';
import type { BridgeHooks } from './hooks.js';
import { Router, type ProcessFactory } from './router.js';
import type { McpSession } from './session.js';

/** A process serving one person, for restarts when their secrets change. */
interface PersonalProcess {
  sub: string;
  process?: StdioBackend;
}

/** A remote server's pool: one upstream session per person, reaped when idle like a process, under no process cap. */
export const remotePoolSpec = (remote: RemoteServerConfig, idleTimeout: number): StdioServerConfig => ({
  command: '',
  args: [],
  env: {},
  isolation: 'per-user',
  secrets: remote.secrets,
  callTimeout: remote.callTimeout,
  idleTimeout,
  cache: remote.cache,
  limits: { sessionsPerPerson: remote.limits.sessionsPerPerson, processes: Number.MAX_SAFE_INTEGER },
});

/**
 * The processes of one stdio server, each behind its router, keyed by its isolation mode: one for
 * everyone (`shared`), one per user (`per-user`), or one per session (`per-session`). Idle ones
 * are reaped.
 */
export class ProcessPool {
  private readonly routers = new Map<string, Router>();
  private readonly bySession = new Map<McpSession, Router>();
  /** The person each process serves and its supervisor (none for a shared one), for restarts when their secrets change. */
  private readonly personal = new Map<string, PersonalProcess>();

  /** `people`: each person's process gets its own folders and template values (none in some unit tests). */
  constructor(
    readonly serverName: string,
    readonly spec: StdioServerConfig,
    private readonly logger: Logger,
    private readonly hooks: BridgeHooks = {},
    /** What stands in for a process (a remote server's upstream session); a stdio process when absent. */
    private readonly startBackend?: ProcessFactory,
    private readonly people?: PersonalDependencies,
  ) {}

  /** Its backends are upstream sessions of a remote server, not processes: no process cap counts them. */
  get remote(): boolean {
    return this.startBackend !== undefined;
  }

  private keyFor(session: McpSession): string {
    switch (this.spec.isolation) {
      case 'shared':
        return '*';
      case 'per-session':
        // The modern wire has no sessions: its requests share one process per person and client.
        return session.stateless ? `client:${session.sub}\u0000${session.clientId}` : `session:${session.id}`;
      default:
        return `user:${session.sub}`;
    }
  }

  /** True when this session would start a process of its own (none runs for its key yet). */
  needsProcess(session: McpSession): boolean {
    const router = this.routers.get(this.keyFor(session));
    return !router || router.closed;
  }

  /** Processes running or starting: what limits.processes counts. */
  get size(): number {
    return this.routers.size;
  }

  /** The process left without sessions the longest (waiting for its idle timeout), if any. */
  oldestSessionless(): Router | undefined {
    let oldest: Router | undefined;
    for (const router of this.routers.values()) {
      if (router.sessions.size === 0 && (!oldest || router.idleSince < oldest.idleSince)) oldest = router;
    }
    return oldest;
  }

  /** Stops a process now (its sessions must have been released first). */
  stop(router: Router): void {
    for (const [key, candidate] of this.routers) if (candidate === router) this.retire(key, router);
  }

  acquire(session: McpSession): Router {
    const key = this.keyFor(session);
    let router = this.routers.get(key);
    if (!router || router.closed) {
      const person = this.spec.isolation === 'shared' ? {} : (this.hooks.personOf?.(session.sub) ?? { sub: session.sub });
      const logger = this.logger.child({ isolation: this.spec.isolation, ...person });
      router = new Router(this.serverName, this.spec, logger, this.hooks, this.startBackend ?? this.processFor(session, logger, key));
      this.routers.set(key, router);
    }
    router.attach(session);
    this.bySession.set(session, router);
    return router;
  }

  /**
   * Starts the process as the session that opens it: a per-session process is initialized with
   * that client's own capabilities and clientInfo, read when it (re)starts. Any other process,
   * and a modern client's (its requests each carry their own capabilities, and the first may
   * declare less than a later one needs), gets the declared set.
   */
  private processFor(session: McpSession, logger: Logger, key: string): ProcessFactory {
    const opener =
      this.spec.isolation === 'per-session' && !session.stateless
        ? (): OpeningClient => ({ capabilities: session.clientCapabilities, clientInfo: session.clientInfo })
        : undefined;
    const people = this.people;
    const personal: PersonalProcess | undefined = this.spec.isolation === 'shared' ? undefined : { sub: session.sub };
    if (personal) this.personal.set(key, personal);
    // A person's process: own HOME, TMPDIR and ${user.dataDir}, templates expanded for them at each start.
    const resolveSpec = people && personal ? () => personalSpec(people, this.serverName, this.spec, session.sub) : undefined;
    return (listener, allocateId) => {
      const process = new StdioBackend(this.serverName, this.spec, logger, listener, {
        allocateId,
        restarted: this.hooks.processRestarted,
        opener,
        resolveSpec,
      });
      if (personal) personal.process = process;
      return process;
    };
  }

  /** A person's secrets for this server changed: each of their processes starts afresh once idle. */
  secretsChanged(sub: string): void {
    // Only a process started with secrets (in its env, args or cwd) has anything to pick up.
    if (secretsOfProcess(this.spec).size === 0) return;
    for (const each of this.personal.values()) if (each.sub === sub) each.process?.restartWhenIdle();
  }

  routerOf(session: McpSession): Router | undefined {
    return this.bySession.get(session);
  }

  release(session: McpSession): void {
    const router = this.bySession.get(session);
    if (!router) return;
    this.bySession.delete(session);
    router.detach(session);
    if (this.spec.isolation === 'per-session' && !session.stateless) this.retire(this.keyFor(session), router);
  }

  private retire(key: string, router: Router): void {
    if (this.routers.get(key) === router) {
      this.routers.delete(key);
      this.personal.delete(key);
    }
    void router.close();
  }

  /** Stops processes nobody has used for the server's idleTimeout. */
  reap(now = Date.now()): void {
    for (const [key, router] of this.routers) {
      if (router.sessions.size === 0 && now - router.idleSince >= this.spec.idleTimeout * 1000) {
        this.logger.info({ server: this.serverName, pid: router.pid }, 'stopping idle MCP server');
        this.retire(key, router);
      }
    }
  }

  get processCount(): number {
    let count = 0;
    for (const router of this.routers.values()) if (router.pid !== undefined) count++;
    return count;
  }

  async closeAll(): Promise<void> {
    const all = [...this.routers.values()];
    this.routers.clear();
    this.personal.clear();
    this.bySession.clear();
    await Promise.all(all.map((router) => router.close()));
  }
}
