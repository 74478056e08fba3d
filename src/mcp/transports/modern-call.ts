import type { ServerResponse } from 'node:http';
import type { MessageSink } from '../core/sink.js';
import type { McpSession } from '../core/session.js';
import {
  ErrorCode,
  isRequest,
  isResponse,
  type JsonRpcError,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../jsonrpc.js';
import { SSE_HEADERS, sseEvent } from './http-streams.js';
import { logPasses, statusOfError } from './modern-results.js';

const ASK_DELAY_MS = 10;

/** A request the process sent the client during a call (elicitation, sampling, roots). */
export interface InputRequest {
  method: string;
  params?: Record<string, unknown>;
}

/**
 * A legacy server's request has only a JSON-RPC id; one that wants its input request known by a
 * name of its own (as a modern server names the keys of inputRequests) puts it here, in _meta.
 */
export const INPUT_KEY_META = 'mcp-oauth-gateway/inputKey';

/** The request's params without the gateway's key hint (the key says it already). */
function withoutKeyHint(params: Record<string, unknown>): Record<string, unknown> {
  const meta = params._meta as Record<string, unknown> | undefined;
  if (!meta || !(INPUT_KEY_META in meta)) return params;
  const rest = { ...meta };
  delete rest[INPUT_KEY_META];
  return { ...params, _meta: rest };
}

/** The key the client sees for a request of the process: the name it asked for, else its id. */
function inputKeyOf(request: JsonRpcRequest, taken: Map<string, unknown>): string {
  const named = (request.params?._meta as Record<string, unknown> | undefined)?.[INPUT_KEY_META];
  return typeof named === 'string' && named && !taken.has(named) ? named : String(request.id);
}

/** What a modern call needs from the transport that made it. */
export interface ModernCallHooks {
  /** The final result, translated for the modern wire. */
  translate(result: unknown): Record<string, unknown>;
  /** An error of the server, as the modern wire says it. */
  translateError(error: JsonRpcError): JsonRpcError;
  /** The call now waits for the client's input: the requestState its retry must carry. */
  park(call: ModernCall): string;
  /** Answers to the process's requests, to hand it. */
  deliver(responses: JsonRpcResponse[]): void;
  /** The call ended (answered, refused, or its client went away before the answer). */
  ended(call: ModernCall): void;
}

/**
 * One modern-era request on its way through a legacy process: the sink of its scope. Progress
 * and (when asked for) log messages go on the request's own stream; the final answer ends it.
 * When the process asks the client something mid-call, the call is parked: the client gets an
 * `input_required` result, the process keeps waiting, and the retry that carries the answers
 * (`resume`) takes over as the HTTP response the final answer goes to.
 */
export class ModernCall implements MessageSink {
  readonly listening = false;
  scope?: McpSession;
  /** Input requests of the process the client has not answered yet, by the key the client answers. */
  readonly inputs = new Map<string, InputRequest>();
  /** The id of the process's request behind each key. */
  private readonly requestIds = new Map<string, JsonRpcId>();
  /** Answers the client sent before being asked (a retry without requestState), used once each. */
  private presupplied: Record<string, unknown> = {};
  private res?: ServerResponse;
  private headers: Record<string, string> = {};
  private clientId: JsonRpcId = 0;
  private streaming = false;
  private asking = false;
  done = false;

  constructor(
    readonly logLevel: string | undefined,
    private readonly hooks: ModernCallHooks,
  ) {}

  /** An HTTP response now carries this call: the first request's, or a retry's. */
  attach(res: ServerResponse, clientId: JsonRpcId, headers: Record<string, string>): void {
    this.res = res;
    this.clientId = clientId;
    this.headers = headers;
    this.streaming = false;
    // Closing the stream before the answer cancels the request (2026-07-28 cancellation).
    res.once('close', () => {
      if (this.res !== res || this.done) return;
      this.res = undefined;
      this.end();
    });
  }

  /** Answers a request that carried inputResponses without a requestState: used if the process asks for them. */
  answerAhead(answers: Record<string, unknown>): void {
    this.presupplied = { ...answers };
  }

  /** The retry of a parked call: its answers go to the process, and this response carries what follows. */
  resume(res: ServerResponse, clientId: JsonRpcId, headers: Record<string, string>, answers: Record<string, unknown>): void {
    this.attach(res, clientId, headers);
    const responses: JsonRpcResponse[] = [];
    for (const key of [...this.inputs.keys()]) {
      if (!Object.hasOwn(answers, key)) continue;
      responses.push(this.take(key, answers[key]));
    }
    if (responses.length > 0) this.hooks.deliver(responses);
    // Asked and not answered: asked again, rather than failing the call.
    if (this.inputs.size > 0) this.askSoon();
  }

  private take(key: string, result: unknown): JsonRpcResponse {
    const id = this.requestIds.get(key)!;
    this.inputs.delete(key);
    this.requestIds.delete(key);
    return { jsonrpc: '2.0', id, result };
  }

  send(message: JsonRpcMessage): boolean {
    if (isResponse(message)) {
      this.answer(message);
      return true;
    }
    if (isRequest(message)) {
      const key = inputKeyOf(message, this.inputs);
      this.inputs.set(key, { method: message.method, ...(message.params ? { params: withoutKeyHint(message.params) } : {}) });
      this.requestIds.set(key, message.id);
      if (Object.hasOwn(this.presupplied, key)) {
        const answer = this.presupplied[key];
        delete this.presupplied[key];
        this.hooks.deliver([this.take(key, answer)]);
      } else this.askSoon();
      return true;
    }
    if (message.method === 'notifications/message') return logPasses(this.logLevel, message.params?.level) ? this.stream(message) : true;
    if (message.method === 'notifications/progress') return this.stream(message);
    return false;
  }

  missingCapability(_relatedRequestId: JsonRpcId | undefined, capability: string): void {
    this.write(
      {
        jsonrpc: '2.0',
        id: this.clientId,
        error: {
          code: ErrorCode.MissingRequiredClientCapability,
          message: `Missing required client capability: the server asked for ${capability}, which this request did not declare`,
          data: { requiredCapabilities: { [capability]: {} } },
        },
      },
      400,
    );
    this.end();
  }

  abandon(): void {
    this.res?.end();
    this.res = undefined;
    this.end();
  }

  stopListening(): void {}

  close(): void {
    if (!this.res) return;
    if (!this.res.headersSent) this.res.writeHead(503, this.headers);
    this.res.end();
    this.res = undefined;
  }

  private answer(response: JsonRpcResponse): void {
    const out: JsonRpcResponse = response.error
      ? { jsonrpc: '2.0', id: this.clientId, error: this.hooks.translateError(response.error) }
      : { jsonrpc: '2.0', id: this.clientId, result: this.hooks.translate(response.result) };
    this.write(out, statusOfError(response.error));
    this.end();
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    this.hooks.ended(this);
  }

  /** Requests of the process arriving together are asked together, in one input_required result. */
  private askSoon(): void {
    if (this.asking) return;
    this.asking = true;
    // A moment's wait, so requests the process sends together (several at once) are asked together.
    setTimeout(() => {
      this.asking = false;
      if (this.done || !this.res || this.inputs.size === 0) return;
      const requestState = this.hooks.park(this);
      const inputRequests = Object.fromEntries(this.inputs);
      this.write({ jsonrpc: '2.0', id: this.clientId, result: { resultType: 'input_required', inputRequests, requestState } }, 200);
    }, ASK_DELAY_MS);
  }

  private stream(message: JsonRpcMessage): boolean {
    const res = this.res;
    if (!res || this.done) return false;
    if (!this.streaming) {
      this.streaming = true;
      res.writeHead(200, { ...this.headers, ...SSE_HEADERS });
      res.flushHeaders();
    }
    res.write(sseEvent(message));
    return true;
  }

  /** Writes the message that ends this HTTP response (JSON, or the last event of its stream). */
  private write(message: JsonRpcResponse, status: number): void {
    const res = this.res;
    if (!res) return;
    this.res = undefined;
    if (this.streaming) {
      res.end(sseEvent(message));
      return;
    }
    const body = JSON.stringify(message);
    res.writeHead(status, { ...this.headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}
