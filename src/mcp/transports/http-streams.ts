import type { ServerResponse } from 'node:http';
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse } from '../jsonrpc.js';
import { endStreamAt } from '../stream-deadline.js';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // Tells nginx-style proxies not to buffer the stream.
  'X-Accel-Buffering': 'no',
};

const KEEPALIVE_MS = 15_000;

export function sseEvent(message: JsonRpcMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * The answer to one POST: a plain JSON body when the response is the only thing to send (the
 * fast path), switching to an SSE stream as soon as a notification or server request for one of
 * its requests must go first. Ends once every request in it is answered or abandoned.
 */
export class PostResponse {
  /** Ids as they are: 1 and "1" are two requests. */
  private readonly awaiting: Set<JsonRpcId>;
  private readonly collected: JsonRpcResponse[] = [];
  private streaming = false;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    requestIds: JsonRpcId[],
    private readonly batch: boolean,
    private readonly headers: Record<string, string>,
  ) {
    this.awaiting = new Set(requestIds);
    res.once('close', () => {
      this.ended = true;
    });
  }

  get open(): boolean {
    return !this.ended;
  }

  /** Sends a message on this response; false when the HTTP response is already gone. */
  send(message: JsonRpcMessage, isResponse: boolean): boolean {
    if (this.ended) return false;
    if (isResponse) {
      if (!this.awaiting.delete((message as JsonRpcResponse).id!)) return false;
      if (!this.streaming) {
        this.collected.push(message as JsonRpcResponse);
        if (this.awaiting.size === 0) this.finishJson();
        return true;
      }
    }
    if (!this.streaming) this.startStream();
    this.res.write(sseEvent(message));
    if (isResponse && this.awaiting.size === 0) this.end();
    return true;
  }

  /**
   * No response will come for this request (the client cancelled it). Once nothing else is
   * awaited the HTTP response ends: with the answers collected so far, or as an event stream
   * with nothing in it (a POST of requests is answered with JSON or a stream, never empty).
   */
  abandon(id: JsonRpcId): void {
    if (this.ended || !this.awaiting.delete(id) || this.awaiting.size > 0) return;
    if (!this.streaming && this.collected.length > 0) {
      this.finishJson();
      return;
    }
    if (!this.streaming) this.startStream();
    this.end();
  }

  private finishJson(): void {
    const body = JSON.stringify(this.batch ? this.collected : this.collected[0]);
    this.res.writeHead(200, { ...this.headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    this.res.end(body);
    this.ended = true;
  }

  private startStream(): void {
    this.streaming = true;
    this.res.writeHead(200, { ...this.headers, ...SSE_HEADERS });
    this.res.flushHeaders();
    for (const response of this.collected) this.res.write(sseEvent(response));
    this.collected.length = 0;
  }

  private end(): void {
    this.ended = true;
    this.res.end();
  }
}

/**
 * The session's standalone GET stream, for messages that belong to no request. It ends at
 * `endAt` (the token's expiry): the client reconnects with a fresh token.
 */
export class EventStream {
  private readonly keepalive: NodeJS.Timeout;
  private readonly deadline?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    headers: Record<string, string>,
    onClose: () => void,
    endAt = Infinity,
  ) {
    res.writeHead(200, { ...headers, ...SSE_HEADERS });
    res.flushHeaders();
    this.keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    this.keepalive.unref();
    this.deadline = endStreamAt(endAt, () => this.close());
    res.once('close', () => {
      this.closed = true;
      clearInterval(this.keepalive);
      clearTimeout(this.deadline);
      onClose();
    });
  }

  send(message: JsonRpcMessage): boolean {
    if (this.closed) return false;
    this.res.write(sseEvent(message));
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    clearTimeout(this.deadline);
    this.res.end();
  }
}
