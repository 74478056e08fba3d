import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { Backend, type BackendHooks } from './router.js';
import type { McpSession } from './session.js';

/**
 * The processes of one stdio server, keyed by its isolation mode: one for everyone (`shared`),
 * one per user (`per-user`), or one per session (`per-session`). Idle ones are reaped.
 */
export class BackendPool {
  private readonly backends = new Map<string, Backend>();
  private readonly bySession = new Map<McpSession, Backend>();

  constructor(
    readonly serverName: string,
    readonly spec: StdioServerConfig,
    private readonly logger: Logger,
    private readonly hooks: BackendHooks = {},
  ) {}

  private keyFor(session: McpSession): string {
    switch (this.spec.isolation) {
      case 'shared': return '*';
      case 'per-session': return `session:${session.id}`;
      default: return `user:${session.sub}`;
    }
  }

  /** True when this session would start a process of its own (none runs for its key yet). */
  needsProcess(session: McpSession): boolean {
    const backend = this.backends.get(this.keyFor(session));
    return !backend || backend.closed;
  }

  /** Processes running or starting: what limits.processes counts. */
  get size(): number {
    return this.backends.size;
  }

  /** The process left without sessions the longest (waiting for its idle timeout), if any. */
  oldestSessionless(): Backend | undefined {
    let oldest: Backend | undefined;
    for (const backend of this.backends.values()) {
      if (backend.sessions.size === 0 && (!oldest || backend.idleSince < oldest.idleSince)) oldest = backend;
    }
    return oldest;
  }

  /** Stops a process now (its sessions must have been released first). */
  stop(backend: Backend): void {
    for (const [key, candidate] of this.backends) if (candidate === backend) this.retire(key, backend);
  }

  acquire(session: McpSession): Backend {
    const key = this.keyFor(session);
    let backend = this.backends.get(key);
    if (!backend || backend.closed) {
      const person = this.spec.isolation === 'shared' ? {} : this.hooks.personOf?.(session.sub) ?? { sub: session.sub };
      backend = new Backend(this.serverName, this.spec, this.logger.child({ isolation: this.spec.isolation, ...person }), this.hooks);
      this.backends.set(key, backend);
    }
    backend.attach(session);
    this.bySession.set(session, backend);
    return backend;
  }

  backendOf(session: McpSession): Backend | undefined {
    return this.bySession.get(session);
  }

  release(session: McpSession): void {
    const backend = this.bySession.get(session);
    if (!backend) return;
    this.bySession.delete(session);
    backend.detach(session);
    if (this.spec.isolation === 'per-session') this.retire(this.keyFor(session), backend);
  }

  private retire(key: string, backend: Backend): void {
    if (this.backends.get(key) === backend) this.backends.delete(key);
    void backend.close();
  }

  /** Stops processes nobody has used for the server's idleTimeout. */
  reap(now = Date.now()): void {
    for (const [key, backend] of this.backends) {
      if (backend.sessions.size === 0 && now - backend.idleSince >= this.spec.idleTimeout * 1000) {
        this.logger.info({ server: this.serverName, pid: backend.pid }, 'stopping idle MCP server');
        this.retire(key, backend);
      }
    }
  }

  get processCount(): number {
    let count = 0;
    for (const backend of this.backends.values()) if (backend.pid !== undefined) count++;
    return count;
  }

  async closeAll(): Promise<void> {
    const all = [...this.backends.values()];
    this.backends.clear();
    this.bySession.clear();
    await Promise.all(all.map((backend) => backend.close()));
  }
}
