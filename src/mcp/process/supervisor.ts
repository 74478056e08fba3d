import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { IdleRestart } from './idle-restart.js';
import { withSecretArgumentsHidden } from './secret-arguments.js';
import { isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from '../jsonrpc.js';
import { discoverRequest, LATEST_PROTOCOL_VERSION } from '../protocol.js';
import { backendClientFor, type OpeningClient } from './backend-client.js';
import { RestartBackoff } from './restart-backoff.js';
import { tellingStderrLine } from './stderr-summary.js';
import { StdioProcess, type StdioSpec } from './stdio-process.js';

const INITIALIZE_TIMEOUT_MS = 30_000;

/** The process could not be started or initialized; `refusal` is the code of an error answer to initialize. */
export class BackendUnavailable extends Error {
  constructor(
    message: string,
    readonly refusal?: number,
  ) {
    super(message);
  }
}

class InitializeRefused extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`${message} (code ${code})`);
  }
}

/**
 * Which of the backend's own requests a message came with, when the backend can tell (a remote
 * server's answer stream can; a stdio pipe cannot): `relatedTo` that request, or none at all.
 */
export interface MessageOrigin {
  relatedTo?: JsonRpcId;
  /** A notification of the subscription (subscriptions/listen) that this request of the gateway's opened. */
  subscription?: JsonRpcId;
}

/** What the supervisor tells the part that routes messages to and from the process. */
export interface ProcessListener {
  /** A message of the process, other than the answer to its initialize handshake; `origin` when the backend knows it. */
  message(message: JsonRpcMessage, origin?: MessageOrigin): void;
  /** A running process stopped on its own: whatever was sent to it is lost. */
  stopped(exit: { pid?: number; reason: string; stderr: string }): void;
  /** Whether anyone still uses the process, so it is started again after it stopped. */
  wanted(): boolean;
}

export interface SupervisorOptions {
  /** Ids for what the gateway itself sends the process, from the same sequence as the calls. */
  allocateId(): number;
  /** A process was started again after it stopped unexpectedly. */
  restarted?(serverName: string): void;
  /**
   * `discover` opens the process as a modern (2026-07-28) client does, with server/discover (its
   * answer stands for the initialize result); the default is the 2025 initialize handshake.
   */
  handshake?: 'initialize' | 'discover';
  /** What the gateway can tell of a message's origin from the message itself. */
  originOf?(message: JsonRpcMessage): MessageOrigin | undefined;
  /**
   * The client whose session the process is for, read at every start: a per-session process is
   * initialized as that client. Without it the process is initialized with the gateway's declared set.
   */
  opener?(): OpeningClient | undefined;
  /** How to start the process, read at every start: a person's process gets its own folders and values. */
  resolveSpec?(): Promise<StdioSpec>;
}

/** What the router needs of a process: tests give it one that lives in memory. */
export interface ProcessHandle {
  readonly ready: boolean;
  readonly pid: number | undefined;
  readonly initializeResult?: Record<string, unknown>;
  ensureStarted(): Promise<void>;
  send(message: JsonRpcMessage): boolean;
  close(): Promise<void>;
  /** How many of the router's calls are in flight, whenever that changes. */
  callsInFlight?(count: number): void;
  /** What the process was started with changed (a person's secrets): a fresh one once no call is in flight. */
  restartWhenIdle?(): void;
}

/**
 * Keeps one stdio server process running: spawns it, initializes it once for every session,
 * starts it again with backoff after it stops, and reports its stderr when it cannot start.
 */
export class ProcessSupervisor implements ProcessHandle {
  private process?: StdioProcess;
  private starting?: Promise<void>;
  private handshake?: { id: number; answer(response: JsonRpcResponse): void };
  initializeResult?: Record<string, unknown>;
  private readonly backoff = new RestartBackoff();
  private notBefore = 0;
  private restartTimer?: NodeJS.Timeout;
  /** The last process stopped unexpectedly; the next start is a restart. */
  private crashed = false;
  private closed = false;
  private inFlight = 0;
  /** A fresh process once no call is in flight: the pool asks for it when its person's secrets change. */
  private readonly idleRestart = new IdleRestart(
    () => this.inFlight > 0,
    () => this.recycle(),
  );
  /** tools/list requests written to the process: their answers lose the arguments the gateway fills in. */
  private readonly listings = new Set<JsonRpcId>();

  constructor(
    private readonly serverName: string,
    private readonly spec: StdioServerConfig,
    private readonly logger: Logger,
    private readonly listener: ProcessListener,
    private readonly options: SupervisorOptions,
  ) {}

  get ready(): boolean {
    return !!this.process?.alive && !!this.initializeResult && !this.starting;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Starts (or restarts) the process if needed and resolves once it is initialized. */
  ensureStarted(): Promise<void> {
    if (this.closed) return Promise.reject(new BackendUnavailable(`MCP server "${this.serverName}" is shutting down`));
    if (this.ready) return Promise.resolve();
    this.starting ??= this.launch().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  send(message: JsonRpcMessage): boolean {
    if (this.spec.secretArguments && isRequest(message) && message.method === 'tools/list') this.listings.add(message.id);
    return this.process?.send(message) ?? false;
  }

  callsInFlight(count: number): void {
    this.inFlight = count;
    this.idleRestart.check();
  }

  /** What the process was started with changed (a person's secrets): a fresh one once no call is in flight. */
  restartWhenIdle(): void {
    this.idleRestart.request();
  }

  private async launch(): Promise<void> {
    const wait = this.notBefore - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Closed during the backoff (session ended, process evicted): a process started now would
    // belong to nobody, outside every pool and limit.
    if (this.closed) throw new BackendUnavailable(`MCP server "${this.serverName}" is shutting down`);
    this.initializeResult = undefined;
    let spec: StdioSpec = this.spec;
    try {
      if (this.options.resolveSpec) spec = await this.options.resolveSpec();
    } catch (error) {
      this.notBefore = Date.now() + this.backoff.afterFailedStart();
      throw new BackendUnavailable(`MCP server "${this.serverName}" could not be started: ${(error as Error).message}`);
    }
    if (this.closed) throw new BackendUnavailable(`MCP server "${this.serverName}" is shutting down`);
    const proc = new StdioProcess(this.serverName, spec, this.logger);
    this.process = proc;
    proc.on('message', (message) => this.onMessage(message));
    proc.on('exit', (info) => this.onExit(proc, info));
    proc.start();
    try {
      this.initializeResult = await this.initialize(proc);
      this.logger.info({ server: this.serverName, pid: proc.pid, serverInfo: this.initializeResult.serverInfo }, 'MCP server started');
      if (this.crashed) {
        this.crashed = false;
        this.options.restarted?.(this.serverName);
      }
    } catch (error) {
      void proc.stop(500);
      const stderr = tellingStderrLine(proc.stderrTail());
      this.logger.error({ server: this.serverName, err: error, stderr }, 'MCP server failed to start');
      this.notBefore = Date.now() + this.backoff.afterFailedStart();
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackendUnavailable(
        `MCP server "${this.serverName}" could not be started: ${reason}${stderr ? ` (stderr: ${stderr})` : ''}`,
        error instanceof InitializeRefused ? error.code : undefined,
      );
    }
  }

  /**
   * The gateway initializes the process once, as a client (see backendClientFor for which one);
   * sessions reuse the answer.
   */
  private initialize(proc: StdioProcess): Promise<Record<string, unknown>> {
    const id = this.options.allocateId();
    const discover = this.options.handshake === 'discover';
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`no answer to initialize within ${INITIALIZE_TIMEOUT_MS / 1000}s`)),
        INITIALIZE_TIMEOUT_MS,
      );
      let settled = false;
      const settle = () => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        this.handshake = undefined;
        return true;
      };
      const fail = (error: Error) => {
        if (settle()) reject(error);
      };
      this.handshake = {
        id,
        answer: (response) => {
          if (response.error) return fail(new InitializeRefused(response.error.code, response.error.message));
          if (!settle()) return;
          if (!discover) proc.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
          resolve((response.result ?? {}) as Record<string, unknown>);
        },
      };
      const client = backendClientFor(this.spec, this.options.opener?.());
      const params = { protocolVersion: LATEST_PROTOCOL_VERSION, ...client };
      const opening = discover ? discoverRequest(id, client.capabilities) : { jsonrpc: '2.0' as const, id, method: 'initialize', params };
      if (!proc.send(opening)) fail(new Error('the process is not accepting input'));
      proc.once('exit', (info) => fail(new Error(`the process exited (${exitReason(info)})`)));
    });
  }

  private onMessage(message: JsonRpcMessage): void {
    if (this.handshake && isResponse(message) && message.id === this.handshake.id) this.handshake.answer(message);
    else if (isResponse(message) && message.id !== null && this.listings.delete(message.id))
      // Arguments the gateway fills from the caller's secrets are not the model's to see.
      this.listener.message(withSecretArgumentsHidden('tools/list', message, this.spec.secretArguments), this.options.originOf?.(message));
    else this.listener.message(message, this.options.originOf?.(message));
  }

  private onExit(proc: StdioProcess, info: ExitInfo): void {
    if (proc !== this.process) return;
    this.process = undefined;
    this.listings.clear();
    // A failed start is reported by launch(); so is a stop the gateway asked for.
    if (this.closed || !this.initializeResult) return;
    this.listener.stopped({ pid: proc.pid, reason: exitReason(info), stderr: tellingStderrLine(proc.stderrTail()) });
    this.crashed = true;
    const delay = this.backoff.afterCrash(Date.now() - proc.startedAt);
    this.notBefore = Date.now() + delay;
    if (!this.listener.wanted()) return;
    this.restartTimer = setTimeout(() => {
      this.ensureStarted().catch((error: Error) =>
        this.logger.error({ server: this.serverName, err: error.message }, 'MCP server restart failed'),
      );
    }, delay);
    this.restartTimer.unref();
  }

  /**
   * Stops the running process without counting a crash, and starts a fresh one if anyone still
   * uses it: what it was started with (a person's secrets) changed. The caller waits for a moment
   * without calls in flight.
   */
  private async recycle(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const old = this.process;
    if (!old || this.closed) return;
    // Its exit is no crash: onExit ignores a process that is no longer the current one.
    this.process = undefined;
    this.initializeResult = undefined;
    await old.stop();
    this.logger.info({ server: this.serverName, pid: old.pid }, "MCP server restarted: its person's secrets changed");
    if (this.listener.wanted())
      await this.ensureStarted().catch((error: Error) =>
        this.logger.error({ server: this.serverName, err: error.message }, 'MCP server restart failed'),
      );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    await this.process?.stop();
  }
}

type ExitInfo = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

const exitReason = (info: ExitInfo): string =>
  info.error ? info.error.message : info.signal ? `killed by ${info.signal}` : `exit code ${info.code}`;
