import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import type { JsonRpcMessage } from '../jsonrpc.js';
import { LegacyFace, refusedAsModernOnly } from './legacy-face.js';
import { ProcessSupervisor, type ProcessHandle, type ProcessListener, type SupervisorOptions } from './supervisor.js';

/**
 * A stdio server's process for the gateway's 2025 sessions: initialized as a 2025 server, unless
 * it refuses initialize as a server of MCP 2026-07-28 only (-32022); from then on it is reached
 * through a LegacyFace, which speaks the modern era to it.
 */
export class StdioBackend implements ProcessHandle {
  private current: ProcessHandle;
  private adapted = false;

  constructor(
    private readonly serverName: string,
    private readonly spec: StdioServerConfig,
    private readonly logger: Logger,
    private readonly listener: ProcessListener,
    private readonly options: SupervisorOptions,
  ) {
    this.current = new ProcessSupervisor(serverName, spec, logger, listener, options);
  }

  get ready(): boolean {
    return this.current.ready;
  }

  get pid(): number | undefined {
    return this.current.pid;
  }

  get initializeResult(): Record<string, unknown> | undefined {
    return this.current.initializeResult;
  }

  async ensureStarted(): Promise<void> {
    try {
      await this.current.ensureStarted();
    } catch (error) {
      if (this.adapted || !refusedAsModernOnly(error)) throw error;
      this.adapted = true;
      this.logger.info({ server: this.serverName }, 'MCP server speaks only 2026-07-28: its 2025 sessions are translated');
      // The refused process is on its way out already (stopped after the failed start): no need to wait for it.
      void this.current.close();
      this.current = new LegacyFace(this.serverName, this.spec, this.logger, this.listener, this.options);
      await this.current.ensureStarted();
    }
  }

  send(message: JsonRpcMessage): boolean {
    return this.current.send(message);
  }

  callsInFlight(count: number): void {
    this.current.callsInFlight?.(count);
  }

  restartWhenIdle(): void {
    this.current.restartWhenIdle?.();
  }

  close(): Promise<void> {
    return this.current.close();
  }
}
