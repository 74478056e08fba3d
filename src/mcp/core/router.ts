import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { tellingStderrLine } from '../process/stderr-summary.js';
import type { ToolCallOutcome } from '../../observability/metrics.js';
import {
  ErrorCode, errorResponse, isRequest, isResponse, progressTokenOf, withProgressToken,
  type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse,
} from '../jsonrpc.js';
import { idKey } from '../transports/http-streams.js';
import type { McpSession } from './session.js';
import { StdioProcess } from '../process/stdio-process.js';

export const GATEWAY_PROTOCOL_VERSION = '2025-11-25';
const INITIALIZE_TIMEOUT_MS = 30_000;
const MAX_PENDING = 4096;
/** One person's calls in flight on one process: a flood from one person never fills the process. */
export const MAX_IN_FLIGHT_PER_PERSON = 256;
const STABLE_UPTIME_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

interface PendingCall {
  session: McpSession;
  clientId: JsonRpcId;
  method: string;
  timeoutMs: number;
  timer?: NodeJS.Timeout;
  gatewayToken?: string;
  clientToken?: string | number;
  /** tools/call only, when measured: the tool's name and performance.now() at arrival. */
  tool: string | undefined;
  started: number;
}

interface InternalCall {
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Where a message the backend raised on its own (sampling, logging, roots) should go. */
interface Attribution {
  session: McpSession;
  relatedId?: JsonRpcId;
}

export class BackendUnavailable extends Error {}

const CAPABILITY_FOR_METHOD: Record<string, 'sampling' | 'elicitation' | 'roots'> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

const BROADCAST = new Set(['notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/resources/list_changed']);

export interface BackendHooks {
  processStarted?(serverName: string): void;
  processExited?(serverName: string, crashed: boolean): void;
  /** A process was started again after it stopped unexpectedly. */
  processRestarted?(serverName: string): void;
  /** A tools/call ended (answered, failed, timed out, cancelled or lost in a crash). */
  toolCallFinished?(session: McpSession, tool: string, outcome: ToolCallOutcome, durationMs: number): void;
  /** The server answered tools/list: its result names the tools it offers. */
  toolsListed?(serverName: string, result: unknown): void;
  /** How the log lines of a process started for one person name them. */
  personOf?(sub: string): { sub: string; email?: string };
}

const toolNameOf = (request: JsonRpcRequest): string => {
  const name = request.params?.name;
  return typeof name === 'string' ? name : '';
};

/**
 * One warm stdio MCP server process and the router in front of it. The gateway initializes the
 * process once; client sessions share it with their JSON-RPC ids and progress tokens rewritten,
 * so responses, progress and server requests find their way back to the session that caused them.
 */
export class Backend {
  private process?: StdioProcess;
  private starting?: Promise<void>;
  initializeResult?: Record<string, unknown>;
  readonly sessions = new Set<McpSession>();
  private readonly pending = new Map<number, PendingCall>();
  private readonly pendingByClient = new Map<McpSession, Map<string, number>>();
  /** Calls in flight per person (session.sub), for the fair share of MAX_PENDING. */
  private readonly pendingByPerson = new Map<string, number>();
  private readonly progress = new Map<string, PendingCall>();
  private readonly internal = new Map<number, InternalCall>();
  private readonly serverRequests = new Map<string, { session: McpSession; backendId: JsonRpcId }>();
  private nextId = 1;
  private crashes = 0;
  private notBefore = 0;
  private restartTimer?: NodeJS.Timeout;
  /** The last process stopped unexpectedly; the next start is a restart. */
  private crashed = false;
  idleSince = Date.now();
  closed = false;

  constructor(
    readonly serverName: string,
    private readonly spec: StdioServerConfig,
    private readonly logger: Logger,
    private readonly hooks: BackendHooks = {},
  ) {}

  get ready(): boolean {
    return !!this.process?.alive && !!this.initializeResult && !this.starting;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Starts (or restarts) the process if needed and resolves once it is initialized. */
  ensureStarted(): Promise<void> {
    if (this.closed) return Promise.reject(new BackendUnavailable(`MCP server "${this.serverName}" is shutting down`));
    if (this.ready) return Promise.resolve();
    this.starting ??= this.launch().finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private async launch(): Promise<void> {
    const wait = this.notBefore - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.initializeResult = undefined;
    const proc = new StdioProcess(this.serverName, this.spec, this.logger);
    this.process = proc;
    proc.on('message', (message) => this.onMessage(message));
    proc.on('exit', (info) => this.onExit(proc, info));
    proc.start();
    try {
      const result = await this.internalRequest('initialize', {
        protocolVersion: GATEWAY_PROTOCOL_VERSION,
        capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } },
        clientInfo: { name: 'mcp-oauth-gateway', version: '0.1.0' },
      });
      proc.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      this.initializeResult = result;
      this.logger.info({ server: this.serverName, pid: proc.pid, serverInfo: result.serverInfo }, 'MCP server started');
      this.hooks.processStarted?.(this.serverName);
      if (this.crashed) {
        this.crashed = false;
        this.hooks.processRestarted?.(this.serverName);
      }
    } catch (error) {
      void proc.stop(500);
      const tail = proc.stderrTail();
      this.logger.error({ server: this.serverName, err: error, stderr: tellingStderrLine(tail) }, 'MCP server failed to start');
      this.notBefore = Date.now() + this.backoff(++this.crashes);
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackendUnavailable(`MCP server "${this.serverName}" could not be started: ${reason}${tail ? ` (stderr: ${tellingStderrLine(tail)})` : ''}`);
    }
  }

  private backoff(attempt: number): number {
    return Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.max(0, attempt - 1));
  }

  private internalRequest(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.internal.delete(id);
        reject(new Error(`no answer to ${method} within ${INITIALIZE_TIMEOUT_MS / 1000}s`));
      }, INITIALIZE_TIMEOUT_MS);
      this.internal.set(id, { resolve, reject, timer });
      if (!this.process?.send({ jsonrpc: '2.0', id, method, params })) {
        clearTimeout(timer);
        this.internal.delete(id);
        reject(new Error('the process is not accepting input'));
      }
    });
  }

  /** A client request: answered through session.deliverResponse, whatever happens. */
  request(session: McpSession, request: JsonRpcRequest): void {
    if (this.ready) {
      this.dispatch(session, request, 0);
      return;
    }
    const arrived = performance.now();
    this.ensureStarted().then(
      () => this.dispatch(session, request, arrived),
      (error: Error) => {
        this.refusedToolCall(session, request, arrived);
        session.deliverResponse(errorResponse(request.id, ErrorCode.ServerUnavailable, error.message));
      },
    );
  }

  /** A tools/call answered by the gateway itself with an error (server unavailable or overloaded). */
  private refusedToolCall(session: McpSession, request: JsonRpcRequest, arrived: number): void {
    if (request.method !== 'tools/call' || !this.hooks.toolCallFinished) return;
    const now = performance.now();
    this.hooks.toolCallFinished(session, toolNameOf(request), 'error', now - (arrived || now));
  }

  /** `arrived`: performance.now() when the request reached the backend, or 0 for "just now". */
  private dispatch(session: McpSession, request: JsonRpcRequest, arrived: number): void {
    if (session.closed) return;
    const refusal = this.overFairShare(session.sub);
    if (refusal) {
      this.refusedToolCall(session, request, arrived);
      session.deliverResponse(errorResponse(request.id, ErrorCode.ServerBusy, refusal));
      return;
    }
    this.pendingByPerson.set(session.sub, (this.pendingByPerson.get(session.sub) ?? 0) + 1);
    const backendId = this.nextId++;
    const call: PendingCall = { session, clientId: request.id, method: request.method, timeoutMs: this.spec.callTimeout * 1000, tool: undefined, started: 0 };
    if (request.method === 'tools/call' && this.hooks.toolCallFinished) {
      call.tool = toolNameOf(request);
      call.started = arrived || performance.now();
    }
    let outgoing: JsonRpcRequest = { jsonrpc: '2.0', id: backendId, method: request.method, ...(request.params ? { params: request.params } : {}) };
    const clientToken = progressTokenOf(request);
    if (clientToken !== undefined) {
      call.clientToken = clientToken;
      call.gatewayToken = `gw-${backendId}`;
      outgoing = withProgressToken(outgoing, call.gatewayToken);
      this.progress.set(call.gatewayToken, call);
    }
    if (request.method === 'resources/subscribe' && typeof request.params?.uri === 'string') session.subscriptions.add(request.params.uri);
    if (request.method === 'resources/unsubscribe' && typeof request.params?.uri === 'string') session.subscriptions.delete(request.params.uri);
    this.pending.set(backendId, call);
    this.clientIndex(session).set(idKey(request.id), backendId);
    call.timer = setTimeout(() => this.timeOut(backendId), call.timeoutMs);
    if (!this.process!.send(outgoing)) {
      this.finish(backendId, 'error');
      session.deliverResponse(errorResponse(request.id, ErrorCode.ServerBusy, `MCP server "${this.serverName}" is not reading its input; retry shortly`));
    }
  }

  /**
   * Why a person may not start one more call now, if so: past their own cap, or the process is
   * full and they hold at least an equal share of it (someone with fewer calls still gets in).
   */
  private overFairShare(sub: string): string | undefined {
    const mine = this.pendingByPerson.get(sub) ?? 0;
    if (mine >= MAX_IN_FLIGHT_PER_PERSON) return `you have ${mine} requests in flight on MCP server "${this.serverName}" (at most ${MAX_IN_FLIGHT_PER_PERSON} per person); retry when some have finished`;
    if (this.pending.size >= MAX_PENDING && mine >= MAX_PENDING / this.pendingByPerson.size) return `MCP server "${this.serverName}" has too many requests in flight; retry shortly`;
    return undefined;
  }

  private clientIndex(session: McpSession): Map<string, number> {
    let index = this.pendingByClient.get(session);
    if (!index) {
      index = new Map();
      this.pendingByClient.set(session, index);
    }
    return index;
  }

  /** Forgets a call in flight; `outcome` is how it ended, reported for tools/call unless `report` is false. */
  private finish(backendId: number, outcome: ToolCallOutcome, report = true): PendingCall | undefined {
    const call = this.pending.get(backendId);
    if (!call) return undefined;
    this.pending.delete(backendId);
    clearTimeout(call.timer);
    const personal = this.pendingByPerson.get(call.session.sub)! - 1;
    if (personal > 0) this.pendingByPerson.set(call.session.sub, personal);
    else this.pendingByPerson.delete(call.session.sub);
    if (call.gatewayToken) this.progress.delete(call.gatewayToken);
    const index = this.pendingByClient.get(call.session);
    index?.delete(idKey(call.clientId));
    if (index?.size === 0) this.pendingByClient.delete(call.session);
    if (report && call.tool !== undefined) this.hooks.toolCallFinished!(call.session, call.tool, outcome, performance.now() - call.started);
    return call;
  }

  private timeOut(backendId: number): void {
    const call = this.finish(backendId, 'timeout');
    if (!call) return;
    this.logger.warn({ server: this.serverName, method: call.method, timeoutMs: call.timeoutMs }, 'MCP call timed out');
    this.process?.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: backendId, reason: 'timed out at the gateway' } });
    call.session.deliverResponse(errorResponse(call.clientId, ErrorCode.RequestTimeout, `MCP server "${this.serverName}" did not answer ${call.method} within ${call.timeoutMs / 1000}s`));
  }

  /** A notification from a client session. */
  notify(session: McpSession, notification: JsonRpcNotification): void {
    switch (notification.method) {
      case 'notifications/initialized':
        return; // the gateway initialized the process itself
      case 'notifications/cancelled': {
        const requestId = notification.params?.requestId as JsonRpcId | undefined;
        if (requestId === undefined) return;
        const backendId = this.pendingByClient.get(session)?.get(idKey(requestId));
        if (backendId === undefined) return;
        this.finish(backendId, 'cancelled');
        session.forget(requestId);
        this.process?.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { ...notification.params, requestId: backendId } });
        return;
      }
      default:
        if (this.ready) this.process!.send(notification);
    }
  }

  /** A client's answer to a request the backend sent it (sampling, elicitation, roots). */
  respond(session: McpSession, response: JsonRpcResponse): void {
    const key = idKey(response.id);
    const outstanding = this.serverRequests.get(key);
    if (!outstanding || outstanding.session !== session) return;
    this.serverRequests.delete(key);
    this.process?.send({ ...response, id: outstanding.backendId });
  }

  private onMessage(message: JsonRpcMessage): void {
    if (isResponse(message)) {
      this.onResponse(message);
    } else if (isRequest(message)) {
      this.onServerRequest(message);
    } else {
      this.onNotification(message as JsonRpcNotification);
    }
  }

  private onResponse(response: JsonRpcResponse): void {
    if (typeof response.id !== 'number') return;
    const internal = this.internal.get(response.id);
    if (internal) {
      this.internal.delete(response.id);
      clearTimeout(internal.timer);
      if (response.error) internal.reject(new Error(`${response.error.message} (code ${response.error.code})`));
      else internal.resolve((response.result ?? {}) as Record<string, unknown>);
      return;
    }
    // A tool's own failure (isError) counts as an error, like a JSON-RPC error.
    const outcome = response.error || (response.result as { isError?: unknown } | undefined)?.isError === true ? 'error' : 'ok';
    const call = this.finish(response.id, outcome, false);
    if (!call) return;
    const answeredAt = call.tool !== undefined ? performance.now() : 0;
    call.session.deliverResponse({ ...response, id: call.clientId });
    // Measured when the answer arrived, reported once it is on its way to the client.
    if (call.tool !== undefined) this.hooks.toolCallFinished!(call.session, call.tool, outcome, answeredAt - call.started);
    else if (call.method === 'tools/list' && response.result && this.hooks.toolsListed) this.hooks.toolsListed(this.serverName, response.result);
  }

  /**
   * Sampling, elicitation, roots and logging raised by the backend carry no request id; they
   * belong to the session whose call is in flight. With calls from several sessions in flight
   * at once (a `shared` process) the owner cannot be known, and nothing is sent anywhere.
   */
  private attribute(): Attribution | undefined {
    let owner: PendingCall | undefined;
    for (const call of this.pending.values()) {
      if (owner && owner.session !== call.session) return undefined;
      owner = call;
    }
    if (owner) return { session: owner.session, relatedId: owner.clientId };
    if (this.sessions.size === 1) return { session: this.sessions.values().next().value! };
    return undefined;
  }

  private onServerRequest(request: JsonRpcRequest): void {
    if (request.method === 'ping') {
      this.process?.send({ jsonrpc: '2.0', id: request.id, result: {} });
      return;
    }
    const refuse = (code: number, message: string) => this.process?.send(errorResponse(request.id, code, message));
    const target = this.attribute();
    if (!target) {
      refuse(ErrorCode.InternalError, `the gateway cannot tell which client session ${request.method} is for`);
      return;
    }
    const capability = CAPABILITY_FOR_METHOD[request.method];
    if (capability && !target.session.clientCapabilities[capability]) {
      refuse(ErrorCode.MethodNotFound, `the client does not support ${request.method}`);
      return;
    }
    const sessionFacingId = `gw-${this.nextId++}`;
    this.serverRequests.set(idKey(sessionFacingId), { session: target.session, backendId: request.id });
    if (!target.session.deliverRelated(target.relatedId, { ...request, id: sessionFacingId })) {
      this.serverRequests.delete(idKey(sessionFacingId));
      refuse(ErrorCode.InternalError, 'the client session has no open stream to receive the request');
    }
  }

  private onNotification(notification: JsonRpcNotification): void {
    const { method, params } = notification;
    if (method === 'notifications/progress') {
      const call = this.progress.get(String(params?.progressToken));
      if (!call) return;
      // Progress shows the call is alive: its timeout starts again.
      clearTimeout(call.timer);
      const backendId = Number(call.gatewayToken!.slice(3));
      call.timer = setTimeout(() => this.timeOut(backendId), call.timeoutMs);
      call.session.deliverRelated(call.clientId, { ...notification, params: { ...params, progressToken: call.clientToken } });
      return;
    }
    if (BROADCAST.has(method)) {
      for (const session of this.sessions) session.deliverUnrelated(notification);
      return;
    }
    if (method === 'notifications/resources/updated') {
      const uri = params?.uri;
      for (const session of this.sessions) if (typeof uri === 'string' && session.subscriptions.has(uri)) session.deliverUnrelated(notification);
      return;
    }
    if (method === 'notifications/cancelled') {
      const requestId = params?.requestId as JsonRpcId | undefined;
      for (const [key, outstanding] of this.serverRequests) {
        if (outstanding.backendId === requestId) {
          this.serverRequests.delete(key);
          outstanding.session.deliverUnrelated({ ...notification, params: { ...params, requestId: key.slice(1) } });
        }
      }
      return;
    }
    const target = this.attribute();
    if (target) target.session.deliverRelated(target.relatedId, notification);
  }

  private onExit(proc: StdioProcess, info: { code: number | null; signal: NodeJS.Signals | null; error?: Error }): void {
    if (proc !== this.process) return;
    this.process = undefined;
    const reason = info.error ? info.error.message : info.signal ? `killed by ${info.signal}` : `exit code ${info.code}`;
    for (const [id, internal] of this.internal) {
      clearTimeout(internal.timer);
      internal.reject(new Error(`the process exited (${reason})`));
      this.internal.delete(id);
    }
    const wasReady = !!this.initializeResult;
    this.hooks.processExited?.(this.serverName, !this.closed);
    if (this.closed) return;
    this.logger.error({ server: this.serverName, pid: proc.pid, reason, stderr: tellingStderrLine(proc.stderrTail()), inFlight: this.pending.size }, 'MCP server stopped unexpectedly');
    for (const backendId of [...this.pending.keys()]) {
      const call = this.finish(backendId, 'crashed')!;
      call.session.deliverResponse(errorResponse(call.clientId, ErrorCode.InternalError, `MCP server "${this.serverName}" stopped unexpectedly (${reason}) before answering ${call.method}`));
    }
    this.serverRequests.clear();
    if (!wasReady) return; // a failed start is reported by launch()
    this.crashed = true;
    this.crashes = Date.now() - proc.startedAt > STABLE_UPTIME_MS ? 1 : this.crashes + 1;
    const delay = this.backoff(this.crashes);
    this.notBefore = Date.now() + delay;
    if (this.sessions.size > 0) {
      this.restartTimer = setTimeout(() => {
        this.ensureStarted().catch((error: Error) => this.logger.error({ server: this.serverName, err: error.message }, 'MCP server restart failed'));
      }, delay);
      this.restartTimer.unref();
    }
  }

  attach(session: McpSession): void {
    this.sessions.add(session);
  }

  /** A session left: its calls are cancelled at the backend and nothing more is routed to it. */
  detach(session: McpSession): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0) this.idleSince = Date.now();
    const index = this.pendingByClient.get(session);
    for (const backendId of index ? [...index.values()] : []) {
      this.finish(backendId, 'cancelled');
      this.process?.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: backendId, reason: 'the client session ended' } });
    }
    for (const [key, outstanding] of this.serverRequests) {
      if (outstanding.session === session) {
        this.serverRequests.delete(key);
        this.process?.send(errorResponse(outstanding.backendId, ErrorCode.InternalError, 'the client session ended'));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    for (const backendId of [...this.pending.keys()]) {
      const call = this.finish(backendId, 'cancelled')!;
      call.session.deliverResponse(errorResponse(call.clientId, ErrorCode.InternalError, `MCP server "${this.serverName}" is shutting down`));
    }
    await this.process?.stop();
  }
}
