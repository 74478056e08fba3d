import type { ServerResponse } from 'node:http';
import type { MessageSink } from '../core/sink.js';
import type { McpSession } from '../core/session.js';
import { ErrorCode, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from '../jsonrpc.js';
import { SSE_HEADERS, sseEvent } from './http-streams.js';
import { logPasses, statusOfError } from './modern-results.js';

/** A request the process sent the client during a call (elicitation, sampling, roots). */
export interface InputRequest {
  method: string;
  params?: Record<string, unknown>;
}

/** What a modern call needs from the transport that made it. */
export interface ModernCallHooks {
  /** The final result, translated for the modern wire. */
  translate(result: unknown): Record<string, unknown>;
  /** The call now waits for the client's input: the requestState its retry must carry. */
  park(call: ModernCall): string;
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
  /** Input requests of the process the client has not answered yet, by the id the answer carries. */
  readonly inputs = new Map<string, InputRequest>();
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

  /** The retry of a parked call: its answers, as responses to hand the process. */
  resume(res: ServerResponse, clientId: JsonRpcId, headers: Record<string, string>, answers: Record<string, unknown>): JsonRpcResponse[] {
    this.attach(res, clientId, headers);
    const responses: JsonRpcResponse[] = [];
    for (const key of [...this.inputs.keys()]) {
      if (!Object.hasOwn(answers, key)) continue;
      this.inputs.delete(key);
      responses.push({ jsonrpc: '2.0', id: key, result: answers[key] });
    }
    // Asked and not answered: asked again, rather than failing the call.
    if (this.inputs.size > 0) this.askSoon();
    return responses;
  }

  send(message: JsonRpcMessage): boolean {
    if (isResponse(message)) {
      this.answer(message);
      return true;
    }
    if (isRequest(message)) {
      this.inputs.set(String(message.id), { method: message.method, ...(message.params ? { params: message.params } : {}) });
      this.askSoon();
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
      ? { jsonrpc: '2.0', id: this.clientId, error: response.error }
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
    setImmediate(() => {
      this.asking = false;
      if (this.done || !this.res || this.inputs.size === 0) return;
      const requestState = this.hooks.park(this);
      const inputRequests = Object.fromEntries(this.inputs);
      this.write({ jsonrpc: '2.0', id: this.clientId, result: { resultType: 'input_required', inputRequests, requestState } }, 200);
    });
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
