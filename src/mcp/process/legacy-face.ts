// A stdio server that serves only MCP 2026-07-28, shown to the router as a 2025 process: so the
// gateway's 2025 sessions can use it. Requests gain the modern `_meta`; an `input_required`
// result becomes requests to the client (elicitation, sampling, roots) on the call's own stream,
// and their answers go back as a retry with inputResponses and the server's requestState.
import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { ErrorCode, errorResponse, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest } from '../jsonrpc.js';
import { GATEWAY_CLIENT_INFO, LATEST_PROTOCOL_VERSION, META, MODERN_PROTOCOL_VERSIONS } from '../protocol.js';
import { GATEWAY_CLIENT_CAPABILITIES } from './backend-client.js';
import { BackendUnavailable, ProcessSupervisor, type ProcessHandle, type ProcessListener, type SupervisorOptions } from './supervisor.js';

/** 2025 methods that 2026-07-28 removed: answered here, as a 2025 server would. */
const ANSWERED_HERE = new Set(['ping', 'logging/setLevel']);

type Result = Record<string, unknown>;

/** A call of the router's in progress at the server, with the answers gathered for its next retry. */
interface Call {
  request: JsonRpcRequest;
  answers: Result;
  /** Ids of the input requests raised for it and not answered yet. */
  waiting: Set<JsonRpcId>;
  requestState?: unknown;
}

/** The request as a modern server wants it: the `_meta` envelope, and the MRTR fields when retried. */
function modernRequest(request: JsonRpcRequest, retry?: { answers: Result; requestState?: unknown }): JsonRpcRequest {
  const params = request.params ?? {};
  const meta = params._meta && typeof params._meta === 'object' ? params._meta : {};
  const envelope = {
    [META.protocolVersion]: MODERN_PROTOCOL_VERSIONS[0]!,
    [META.clientInfo]: GATEWAY_CLIENT_INFO,
    [META.clientCapabilities]: GATEWAY_CLIENT_CAPABILITIES,
  };
  const mrtr = retry
    ? { inputResponses: retry.answers, ...(retry.requestState !== undefined ? { requestState: retry.requestState } : {}) }
    : {};
  return { ...request, params: { ...params, ...mrtr, _meta: { ...meta, ...envelope } } };
}

/** The initialize result a 2025 client expects, from the server's discover result. */
function initializeResultOf(discovered: Result, serverName: string): Result {
  const meta = (discovered._meta ?? {}) as Result;
  return {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: discovered.capabilities ?? {},
    serverInfo: meta[META.serverInfo] ?? { name: serverName, version: '0' },
    ...(typeof discovered.instructions === 'string' ? { instructions: discovered.instructions } : {}),
  };
}

/** Whether a failed start is a server refusing 2025's initialize because it speaks only the modern era. */
export const refusedAsModernOnly = (error: unknown): boolean =>
  error instanceof BackendUnavailable && error.refusal === ErrorCode.UnsupportedProtocolVersion;

/** A modern-only stdio server behind a 2025 face (see the file's opening comment). */
export class LegacyFace implements ProcessHandle {
  private readonly inner: ProcessSupervisor;
  private readonly calls = new Map<JsonRpcId, Call>();
  /** Input requests raised toward the client: the call and the key each answers. */
  private readonly asked = new Map<JsonRpcId, { call: Call; key: string }>();
  private nextAsk = 0;

  constructor(
    private readonly serverName: string,
    spec: StdioServerConfig,
    logger: Logger,
    private readonly listener: ProcessListener,
    options: SupervisorOptions,
  ) {
    const inner: ProcessListener = {
      message: (message, origin) => this.fromServer(message, origin),
      stopped: (exit) => {
        this.calls.clear();
        this.asked.clear();
        listener.stopped(exit);
      },
      wanted: () => listener.wanted(),
    };
    this.inner = new ProcessSupervisor(serverName, spec, logger, inner, { ...options, handshake: 'discover' });
  }

  get ready(): boolean {
    return this.inner.ready;
  }

  get pid(): number | undefined {
    return this.inner.pid;
  }

  get initializeResult(): Result | undefined {
    const discovered = this.inner.initializeResult;
    return discovered && initializeResultOf(discovered, this.serverName);
  }

  ensureStarted(): Promise<void> {
    return this.inner.ensureStarted();
  }

  send(message: JsonRpcMessage): boolean {
    if (isRequest(message)) {
      if (ANSWERED_HERE.has(message.method)) {
        queueMicrotask(() => this.listener.message({ jsonrpc: '2.0', id: message.id, result: {} }));
        return true;
      }
      this.calls.set(message.id, { request: message, answers: {}, waiting: new Set() });
      return this.inner.send(modernRequest(message));
    }
    if (isResponse(message)) return this.answered(message.id, message.result, message.error);
    if (message.method === 'notifications/cancelled') this.calls.delete(message.params?.requestId as JsonRpcId);
    return this.inner.send(message);
  }

  /** The client answered an input request: once every one of the round is in, the call is retried with them. */
  private answered(id: JsonRpcId | null, result: unknown, error?: { code: number; message: string }): boolean {
    const ask = id === null ? undefined : this.asked.get(id);
    if (!ask) return true;
    this.asked.delete(id!);
    const { call, key } = ask;
    if (!this.calls.has(call.request.id)) return true;
    if (error) {
      // The client could not answer (no such capability, no stream): the call fails with its reason.
      this.calls.delete(call.request.id);
      for (const other of call.waiting) this.asked.delete(other);
      this.listener.message(errorResponse(call.request.id, error.code, error.message));
      return true;
    }
    call.answers[key] = result;
    call.waiting.delete(id!);
    if (call.waiting.size === 0) this.retry(call);
    return true;
  }

  private retry(call: Call): void {
    if (!this.inner.send(modernRequest(call.request, { answers: call.answers, requestState: call.requestState }))) {
      this.calls.delete(call.request.id);
      this.listener.message(
        errorResponse(call.request.id, ErrorCode.ServerBusy, `MCP server "${this.serverName}" is not reading its input`),
      );
    }
  }

  private fromServer(message: JsonRpcMessage, origin?: Parameters<ProcessListener['message']>[1]): void {
    if (!isResponse(message) || message.id === null) return this.listener.message(message, origin);
    const call = this.calls.get(message.id);
    const result = message.result as Result | undefined;
    if (call && result?.resultType === 'input_required') return this.ask(call, result);
    this.calls.delete(message.id);
    if (!result) return this.listener.message(message);
    const { resultType: _complete, ...legacy } = result;
    this.listener.message({ ...message, result: legacy });
  }

  /** Each of the server's input requests goes to the client as a request of the call (a new round). */
  private ask(call: Call, result: Result): void {
    call.requestState = result.requestState;
    call.answers = {};
    const inputs = Object.entries((result.inputRequests ?? {}) as Record<string, { method?: unknown; params?: Result }>);
    for (const [key, input] of inputs) {
      const id = `mcpgw-input-${++this.nextAsk}`;
      this.asked.set(id, { call, key });
      call.waiting.add(id);
      const request: JsonRpcRequest = {
        jsonrpc: '2.0',
        id,
        method: String(input?.method),
        ...(input?.params ? { params: input.params } : {}),
      };
      this.listener.message(request, { relatedTo: call.request.id });
    }
    if (call.waiting.size === 0) this.retry(call);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
