// Between one backend process and the sessions that share it: ids and progress tokens rewritten,
// answers and server requests routed back, fair shares of in-flight slots. Over 300 lines with its
// comments (about 290 of code); the call table and the process supervisor are their own files.
import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import type { ToolCallOutcome } from '../../observability/metrics.js';
import {
  ErrorCode,
  errorResponse,
  isRequest,
  isResponse,
  withProgressToken,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../jsonrpc.js';
import { StdioBackend } from '../process/stdio-backend.js';
import type { MessageOrigin, ProcessHandle, ProcessListener } from '../process/supervisor.js';
import { Attribution } from './attribution.js';
import { CallTable, type ClientCall } from './call-table.js';
import type { BridgeHooks } from './hooks.js';
import { ResourceWatchers } from './resource-watchers.js';
import type { McpSession } from './session.js';

const MAX_PENDING = 4096;
/** One person's calls in flight on one process: a flood from one person never fills the process. */
const MAX_IN_FLIGHT_PER_PERSON = 256;

const CAPABILITY_FOR_METHOD: Record<string, 'sampling' | 'elicitation' | 'roots'> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

const BROADCAST = new Set([
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
]);

/** Gives the router its process; tests give it one that lives in memory. */
export type ProcessFactory = (listener: ProcessListener, allocateId: () => number) => ProcessHandle;

const toolNameOf = (request: JsonRpcRequest): string => {
  const name = request.params?.name;
  return typeof name === 'string' ? name : '';
};

/**
 * Routes between the client sessions sharing one stdio server process and that process. Client
 * ids and progress tokens are rewritten (the call table holds both directions), so answers,
 * progress and the process's own requests reach the session that caused them. Speaks only in
 * messages: sessions write through their sinks, the process through its supervisor.
 */
export class Router {
  readonly sessions = new Set<McpSession>();
  private readonly calls = new CallTable<McpSession>((inFlight) => this.process.callsInFlight?.(inFlight));
  private readonly attribution = new Attribution<McpSession>();
  /** What the process is subscribed to on behalf of subscription streams. */
  readonly watchers: ResourceWatchers;
  private readonly process: ProcessHandle;
  private readonly callTimeoutMs: number;
  idleSince = Date.now();
  closed = false;

  constructor(
    readonly serverName: string,
    spec: StdioServerConfig,
    private readonly logger: Logger,
    private readonly hooks: BridgeHooks = {},
    startProcess?: ProcessFactory,
  ) {
    this.callTimeoutMs = spec.callTimeout * 1000;
    const listener: ProcessListener = {
      message: (message, origin) => this.onMessage(message, origin),
      stopped: (exit) => this.onStopped(exit),
      wanted: () => this.sessions.size > 0,
    };
    const allocateId = () => this.calls.allocateId();
    this.watchers = new ResourceWatchers((method, uri) => this.tellProcess(method, uri));
    this.process =
      startProcess?.(listener, allocateId) ??
      new StdioBackend(serverName, spec, logger, listener, { allocateId, restarted: hooks.processRestarted });
  }

  /** The process is running and initialized: a call can be written to it now. */
  get ready(): boolean {
    return this.process.ready;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get initializeResult(): Record<string, unknown> | undefined {
    return this.process.initializeResult;
  }

  ensureStarted(): Promise<void> {
    return this.process.ensureStarted();
  }

  /**
   * A client request: recorded at once (so a cancel finds it even while the process starts),
   * written when the process is ready, and answered through the session whatever happens.
   */
  request(session: McpSession, request: JsonRpcRequest): void {
    const refusal = this.overFairShare(session.sub);
    if (refusal) {
      if (request.method === 'tools/call') this.hooks.toolCallFinished?.(session, toolNameOf(request), 'error', 0);
      session.answer(errorResponse(request.id, ErrorCode.ServerBusy, refusal));
      return;
    }
    const call = this.calls.add(session, request);
    if (request.method === 'tools/call' && this.hooks.toolCallFinished) {
      call.tool = toolNameOf(request);
      call.started = performance.now();
    }
    const uri = request.params?.uri;
    if (request.method === 'resources/subscribe' && typeof uri === 'string') session.subscriptions.add(uri);
    if (request.method === 'resources/unsubscribe' && typeof uri === 'string') {
      session.subscriptions.delete(uri);
      // Listeners of the modern wire still want it: the process stays subscribed.
      if (this.watchers.watched(uri)) {
        this.finish(call, 'ok');
        session.answer({ jsonrpc: '2.0', id: request.id, result: {} });
        return;
      }
    }
    if (this.process.ready) return this.send(call, request);
    this.process.ensureStarted().then(
      () => this.send(call, request),
      (error: Error) => {
        if (this.finish(call, 'error')) session.answer(errorResponse(request.id, ErrorCode.ServerUnavailable, error.message));
      },
    );
  }

  /** Writes a recorded call to the process, unless it ended (cancelled, session gone) while waiting. */
  private send(call: ClientCall<McpSession>, request: JsonRpcRequest): void {
    if (!this.calls.has(call)) return;
    let outgoing: JsonRpcRequest = {
      jsonrpc: '2.0',
      id: call.processId,
      method: request.method,
      ...(request.params ? { params: request.params } : {}),
    };
    if (call.processToken) outgoing = withProgressToken(outgoing, call.processToken);
    call.sent = true;
    // A subscription (a modern server's listen stream) is answered only when it ends: no timeout.
    if (request.method !== 'subscriptions/listen') this.armTimeout(call);
    if (!this.process.send(outgoing)) {
      this.finish(call, 'error');
      call.session.answer(
        errorResponse(call.clientId, ErrorCode.ServerBusy, `MCP server "${this.serverName}" is not reading its input; retry shortly`),
      );
    }
  }

  /**
   * Why a person may not start one more call now, if so: past their own cap, or the process is
   * full and they hold at least an equal share of it (someone with fewer calls still gets in).
   */
  private overFairShare(sub: string): string | undefined {
    const mine = this.calls.callsOfPerson(sub);
    if (mine >= MAX_IN_FLIGHT_PER_PERSON)
      return (
        `you have ${mine} requests in flight on MCP server "${this.serverName}" ` +
        `(at most ${MAX_IN_FLIGHT_PER_PERSON} per person); retry when some have finished`
      );
    if (this.calls.size >= MAX_PENDING && mine >= MAX_PENDING / this.calls.people)
      return `MCP server "${this.serverName}" has too many requests in flight; retry shortly`;
    return undefined;
  }

  /** (Re)starts a call's timeout: progress shows the call is alive. */
  private armTimeout(call: ClientCall<McpSession>): void {
    clearTimeout(call.timer);
    call.timer = setTimeout(() => this.timeOut(call), this.callTimeoutMs);
  }

  /** Forgets a call; `outcome` is reported for tools/call unless `report` is false. False when it had ended already. */
  private finish(call: ClientCall<McpSession>, outcome: ToolCallOutcome, report = true): boolean {
    if (!this.calls.finish(call)) return false;
    if (report && call.tool !== undefined) this.hooks.toolCallFinished!(call.session, call.tool, outcome, performance.now() - call.started);
    return true;
  }

  private timeOut(call: ClientCall<McpSession>): void {
    if (!this.finish(call, 'timeout')) return;
    this.logger.warn({ server: this.serverName, method: call.method, timeoutMs: this.callTimeoutMs }, 'MCP call timed out');
    this.cancelAtProcess(call, { reason: 'timed out at the gateway' });
    call.session.answer(
      errorResponse(
        call.clientId,
        ErrorCode.RequestTimeout,
        `MCP server "${this.serverName}" did not answer ${call.method} within ${this.callTimeoutMs / 1000}s`,
      ),
    );
  }

  /** A notification from a client session. */
  notify(session: McpSession, notification: JsonRpcNotification): void {
    if (notification.method === 'notifications/initialized') return; // the gateway initialized the process itself
    if (notification.method !== 'notifications/cancelled') {
      if (this.process.ready) this.process.send(notification);
      return;
    }
    const requestId = notification.params?.requestId as JsonRpcId | undefined;
    const call = requestId === undefined ? undefined : this.calls.byClient(session, requestId);
    if (!call) return;
    this.finish(call, 'cancelled');
    session.cancel(call.clientId);
    if (call.sent) this.cancelAtProcess(call, notification.params);
  }

  /** Tells the process a call it was given is cancelled (its answer, if any, goes nowhere). */
  private cancelAtProcess(call: ClientCall<McpSession>, params: Record<string, unknown> = {}): void {
    this.process.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { ...params, requestId: call.processId } });
  }

  /** A client's answer to a request the process sent it (sampling, elicitation, roots). */
  respond(session: McpSession, response: JsonRpcResponse): void {
    if (response.id === null) return;
    const request = this.calls.takeServerRequest(session, response.id);
    if (request) this.process.send({ ...response, id: request.processId });
  }

  private onMessage(message: JsonRpcMessage, origin?: MessageOrigin): void {
    if (isResponse(message)) this.onResponse(message);
    else if (isRequest(message)) this.onServerRequest(message, origin);
    else this.onNotification(message as JsonRpcNotification, origin);
  }

  private onResponse(response: JsonRpcResponse): void {
    const call = response.id === null ? undefined : this.calls.byProcess(response.id);
    if (!call) return;
    // A tool's own failure (isError) counts as an error, like a JSON-RPC error.
    const outcome = response.error || (response.result as { isError?: unknown } | undefined)?.isError === true ? 'error' : 'ok';
    this.finish(call, outcome, false);
    const answeredAt = call.tool !== undefined ? performance.now() : 0;
    call.session.answer({ ...response, id: call.clientId });
    // Measured when the answer arrived, reported once it is on its way to the client.
    if (call.tool !== undefined) this.hooks.toolCallFinished!(call.session, call.tool, outcome, answeredAt - call.started);
    else if (call.method === 'tools/list' && response.result && this.hooks.toolsListed)
      this.hooks.toolsListed(this.serverName, response.result);
  }

  /**
   * Whom a message of the process without a request id belongs to (see Attribution). A backend
   * that says which call a message came with (`origin`) is believed; one it says came with none
   * belongs to no call.
   */
  private attribute(origin?: MessageOrigin): { session: McpSession; relatedId?: JsonRpcId } | undefined {
    const related = origin?.relatedTo === undefined ? undefined : this.calls.byProcess(origin.relatedTo);
    if (origin) return related && { session: related.session, relatedId: related.clientId };
    const owner = this.attribution.owner(this.calls.calls(), (session) => this.calls.isWaitingForClient(session));
    if (owner) return owner;
    if (this.sessions.size === 1) return { session: this.sessions.values().next().value! };
    return undefined;
  }

  private onServerRequest(request: JsonRpcRequest, origin?: MessageOrigin): void {
    if (request.method === 'ping') {
      this.process.send({ jsonrpc: '2.0', id: request.id, result: {} });
      return;
    }
    const refuse = (code: number, message: string) => this.process.send(errorResponse(request.id, code, message));
    const target = this.attribute(origin);
    if (!target) {
      refuse(ErrorCode.InternalError, `the gateway cannot tell which client session ${request.method} is for`);
      return;
    }
    const capability = CAPABILITY_FOR_METHOD[request.method];
    if (capability && !target.session.clientCapabilities[capability]) {
      refuse(ErrorCode.MethodNotFound, `the client does not support ${request.method}`);
      target.session.sink.missingCapability?.(target.relatedId, capability);
      return;
    }
    const sessionFacingId = this.calls.addServerRequest(target.session, request.id);
    if (!target.session.sendRelated(target.relatedId, { ...request, id: sessionFacingId })) {
      this.calls.takeServerRequest(target.session, sessionFacingId);
      refuse(ErrorCode.InternalError, 'the client session has no open stream to receive the request');
    }
  }

  private onNotification(notification: JsonRpcNotification, origin?: MessageOrigin): void {
    const { method, params } = notification;
    // A subscription's notification goes to the request that opened it (a modern process's listen).
    const subscription = origin?.subscription === undefined ? undefined : this.calls.byProcess(origin.subscription);
    if (subscription) subscription.session.sendRelated(subscription.clientId, notification);
    else if (method === 'notifications/progress') {
      const call = this.calls.byProgressToken(params?.progressToken);
      if (!call) return;
      this.armTimeout(call);
      call.session.sendRelated(call.clientId, { ...notification, params: { ...params, progressToken: call.clientToken } });
    } else if (BROADCAST.has(method)) {
      for (const session of this.sessions) session.sendUnrelated(notification);
    } else if (method === 'notifications/resources/updated') {
      const uri = params?.uri;
      for (const session of this.sessions)
        if (typeof uri === 'string' && session.subscriptions.has(uri)) session.sendUnrelated(notification);
    } else if (method === 'notifications/cancelled') {
      const requestId = params?.requestId;
      for (const request of this.calls.takeServerRequestsWhere((r) => r.processId === requestId)) {
        request.session.sendUnrelated({ ...notification, params: { ...params, requestId: request.sessionFacingId } });
      }
    } else {
      const target = this.attribute(origin);
      if (target) target.session.sendRelated(target.relatedId, notification);
    }
  }

  /** The process stopped on its own: every call written to it gets an error now. */
  private onStopped({ pid, reason, stderr }: { pid?: number; reason: string; stderr: string }): void {
    const lost = [...this.calls.calls()].filter((call) => call.sent);
    this.logger.error({ server: this.serverName, pid, reason, stderr, inFlight: lost.length }, 'MCP server stopped unexpectedly');
    for (const call of lost) {
      this.finish(call, 'crashed');
      call.session.answer(
        errorResponse(
          call.clientId,
          ErrorCode.InternalError,
          `MCP server "${this.serverName}" stopped unexpectedly (${reason}) before answering ${call.method}`,
        ),
      );
    }
    this.calls.takeServerRequestsWhere(() => true);
  }

  attach(session: McpSession): void {
    this.sessions.add(session);
  }

  /** A request of the gateway's own; its answer matches no call and is dropped. */
  private tellProcess(method: string, uri: string): void {
    const send = () => this.process.send({ jsonrpc: '2.0', id: this.calls.allocateId(), method, params: { uri } });
    if (this.process.ready) send();
    else this.process.ensureStarted().then(send, () => undefined);
  }

  /** A session left: its calls are cancelled at the process and nothing more is routed to it. */
  detach(session: McpSession): void {
    this.sessions.delete(session);
    this.watchers.unwatch(session);
    if (this.sessions.size === 0) this.idleSince = Date.now();
    for (const call of this.calls.callsOf(session)) {
      this.finish(call, 'cancelled');
      if (call.sent) this.cancelAtProcess(call, { reason: 'the client session ended' });
    }
    for (const request of this.calls.takeServerRequestsWhere((r) => r.session === session)) {
      this.process.send(errorResponse(request.processId, ErrorCode.InternalError, 'the client session ended'));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const call of [...this.calls.calls()]) {
      this.finish(call, 'cancelled');
      call.session.answer(errorResponse(call.clientId, ErrorCode.InternalError, `MCP server "${this.serverName}" is shutting down`));
    }
    await this.process.close();
  }
}
