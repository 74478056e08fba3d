// The processes that serve modern (2026-07-28) clients of a stdio server that speaks that era
// itself: opened with server/discover instead of initialize, and given modern requests as they
// are. A process keeps the era of its first message, so these run beside the 2025 ones.
import type { GatewayConfig, StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { ErrorCode, LimitReached, type JsonRpcMessage } from '../jsonrpc.js';
import { probeStdioEra } from '../process/era-probe.js';
import { ProcessSupervisor, type MessageOrigin } from '../process/supervisor.js';
import { META } from '../protocol.js';
import type { BridgeHooks } from './hooks.js';
import { ProcessPool } from './process-pool.js';
import type { ProcessFactory } from './router.js';
import { McpSession, type ClientCapabilities, type SessionOwner } from './session.js';
import type { MessageSink } from './sink.js';

/** A notification that names its subscription in `_meta` belongs to the listen request that opened it. */
function originOf(message: JsonRpcMessage): MessageOrigin | undefined {
  const meta = 'method' in message ? message.params?._meta : undefined;
  const subscription = meta && typeof meta === 'object' ? (meta as Record<string, unknown>)[META.subscriptionId] : undefined;
  return typeof subscription === 'string' || typeof subscription === 'number' ? { subscription } : undefined;
}

/**
 * Per stdio server: whether it speaks the modern era (probed once, on first need, kept in
 * memory), and the pool of its modern processes, keyed by the server's isolation as the 2025
 * ones are. Scopes here are stateless like the modern wire's other scopes.
 */
export class NativePools {
  private readonly verdicts = new Map<string, Promise<boolean>>();
  private readonly pools = new Map<string, ProcessPool>();
  private readonly scopes = new Set<McpSession>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly logger: Logger,
    private readonly hooks: BridgeHooks,
    private readonly idPrefix: string,
  ) {}

  private specOf(serverName: string): StdioServerConfig {
    return this.config.mcpServers[serverName] as StdioServerConfig;
  }

  /** Whether the stdio server answers server/discover with 2026-07-28 (asked of a throwaway process once). */
  speaksModern(serverName: string): Promise<boolean> {
    let verdict = this.verdicts.get(serverName);
    if (!verdict) {
      verdict = probeStdioEra(serverName, this.specOf(serverName), this.logger.child({ server: serverName }));
      this.verdicts.set(serverName, verdict);
    }
    return verdict;
  }

  private poolOf(serverName: string): ProcessPool {
    let pool = this.pools.get(serverName);
    if (pool) return pool;
    const spec = this.specOf(serverName);
    const logger = this.logger.child({ server: serverName, era: 'modern' });
    const modernProcess: ProcessFactory = (listener, allocateId) =>
      new ProcessSupervisor(serverName, spec, logger, listener, { allocateId, handshake: 'discover', originOf });
    pool = new ProcessPool(serverName, spec, logger, this.hooks, modernProcess);
    this.pools.set(serverName, pool);
    return pool;
  }

  /** A scope on the person's modern process (started if need be, within the server's limits.processes). */
  async openScope(serverName: string, owner: SessionOwner, capabilities: ClientCapabilities, sink: MessageSink): Promise<McpSession> {
    const pool = this.poolOf(serverName);
    const scope = new McpSession(owner, serverName, sink, this.idPrefix, true);
    scope.clientCapabilities = capabilities;
    const { processes } = pool.spec.limits;
    if (pool.needsProcess(scope) && pool.size >= processes)
      throw new LimitReached(
        `MCP server "${serverName}" already runs ${processes} modern-era processes (its limits.processes); retry later`,
      );
    const router = pool.acquire(scope);
    this.scopes.add(scope);
    try {
      await router.ensureStarted();
    } catch (error) {
      this.close(scope);
      throw error;
    }
    return scope;
  }

  /** A client's request (or notification), as it was sent. */
  receive(scope: McpSession, message: JsonRpcMessage): void {
    const router = this.pools.get(scope.serverName)?.routerOf(scope);
    if (!router || !('method' in message)) return;
    scope.touch();
    if ('id' in message && message.id !== undefined) {
      scope.track(message.id);
      router.request(scope, { ...message, id: message.id });
    } else router.notify(scope, message);
  }

  close(scope: McpSession): void {
    this.scopes.delete(scope);
    this.pools.get(scope.serverName)?.release(scope);
    scope.answerInFlight(ErrorCode.RequestTimeout, 'the request was closed');
    scope.close();
  }

  /** Stops modern processes nobody has used for their server's idleTimeout. */
  reap(now = Date.now()): void {
    for (const pool of this.pools.values()) pool.reap(now);
  }

  /** At shutdown: open subscription streams end with their result. */
  stopListening(): void {
    for (const scope of this.scopes) scope.sink.stopListening();
  }

  get processCount(): number {
    let count = 0;
    for (const pool of this.pools.values()) count += pool.processCount;
    return count;
  }

  async closeAll(): Promise<void> {
    for (const scope of this.scopes) {
      scope.answerInFlight(ErrorCode.ServerUnavailable, 'the gateway is shutting down; retry the request');
      scope.close();
    }
    this.scopes.clear();
    await Promise.all([...this.pools.values()].map((pool) => pool.closeAll()));
  }
}
