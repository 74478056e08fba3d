// Modern (2026-07-28) requests for a stdio server that speaks that era itself: passed through as
// they were sent, on the person's modern process, and answered with what the server answers.
// Its own input_required, requestState, cache hints and subscriptions reach the client untouched.
import type { ServerResponse } from 'node:http';
import type { NativePools } from '../core/native-pools.js';
import type { McpSession } from '../core/session.js';
import type { MessageSink } from '../core/sink.js';
import { ErrorCode, isRequest, isResponse, LimitReached, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest } from '../jsonrpc.js';
import { mcpError } from '../json-rpc-errors.js';
import { META } from '../protocol.js';
import { endStreamAt } from '../stream-deadline.js';
import { SSE_HEADERS, sseEvent } from './http-streams.js';
import type { ModernExchange } from './modern-http.js';
import type { ModernMeta } from './modern-request.js';
import { statusOfError } from './modern-results.js';

/** A subscription's notification (and its final result) names the client's listen request, not the gateway's. */
function withSubscriptionId(message: JsonRpcMessage, subscriptionId: JsonRpcId): JsonRpcMessage {
  const body = ('method' in message ? message.params : message.result) as Record<string, unknown> | undefined;
  const meta = body?._meta;
  if (!meta || typeof meta !== 'object' || !(META.subscriptionId in meta)) return message;
  const stamped = { ...body, _meta: { ...meta, [META.subscriptionId]: subscriptionId } };
  return ('method' in message ? { ...message, params: stamped } : { ...message, result: stamped }) as JsonRpcMessage;
}

/**
 * The sink of one passed-through request: notifications (progress, log messages, a
 * subscription's notifications) stream as SSE, the answer ends the response (plain JSON when it
 * comes first). Closing the response first cancels the request at the server.
 */
export class NativeExchange implements MessageSink {
  scope?: McpSession;
  done = false;
  private res?: ServerResponse;
  private streaming = false;
  private readonly deadline?: NodeJS.Timeout;
  private readonly listen: boolean;

  constructor(
    res: ServerResponse,
    private readonly clientId: JsonRpcId,
    private readonly headers: Record<string, string>,
    private readonly ended: (exchange: NativeExchange) => void,
    /** For a subscription stream: when it ends (the token's expiry). */
    streamUntil?: number,
  ) {
    this.res = res;
    res.once('close', () => {
      if (this.res !== res) return;
      this.res = undefined;
      this.end();
    });
    this.listen = streamUntil !== undefined;
    if (streamUntil !== undefined) this.deadline = endStreamAt(streamUntil, () => this.endNow());
  }

  get listening(): boolean {
    return this.listen && !this.done;
  }

  send(message: JsonRpcMessage): boolean {
    const res = this.res;
    if (!res || this.done) return false;
    // A modern server asks the client through input_required results, never with requests of its own.
    if (isRequest(message)) return false;
    if (!isResponse(message)) {
      if (!this.streaming) {
        this.streaming = true;
        res.writeHead(200, { ...this.headers, ...SSE_HEADERS });
        res.flushHeaders();
      }
      return res.write(sseEvent(withSubscriptionId(message, this.clientId))) || true;
    }
    this.res = undefined;
    const answer = withSubscriptionId(message, this.clientId);
    if (this.streaming) res.end(sseEvent(answer));
    else {
      const body = JSON.stringify(answer);
      res.writeHead(statusOfError(message.error), {
        ...this.headers,
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    }
    this.end();
    return true;
  }

  abandon(): void {
    this.endNow();
  }

  /** At shutdown a subscription stream ends (and the server's subscription with it); calls in flight go on. */
  stopListening(): void {
    if (this.listen) this.endNow();
  }

  /** Ends the response now; the server's request is cancelled. */
  private endNow(): void {
    const res = this.res;
    this.res = undefined;
    res?.end();
    this.end();
  }

  close(): void {
    const res = this.res;
    this.res = undefined;
    if (res && !res.headersSent) res.writeHead(503, this.headers);
    res?.end();
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadline);
    this.ended(this);
  }
}

/** Passes one modern request through to the person's modern process of the server. */
export async function passThrough(native: NativePools, exchange: ModernExchange, request: JsonRpcRequest, meta: ModernMeta): Promise<void> {
  const { res, headers, token, serverName } = exchange;
  const listen = request.method === 'subscriptions/listen';
  const sink = new NativeExchange(
    res,
    request.id,
    headers,
    (ended) => {
      if (ended.scope) native.close(ended.scope);
    },
    listen ? token.exp! * 1000 : undefined,
  );
  const owner = { sub: token.sub, clientId: token.client_id };
  const scope = await native.openScope(serverName, owner, meta.clientCapabilities, sink).catch((error: unknown) => {
    if (error instanceof LimitReached) throw error;
    throw mcpError(200, (error as Error).message, ErrorCode.ServerUnavailable);
  });
  sink.scope = scope;
  if (sink.done) return native.close(scope);
  native.receive(scope, request);
}
