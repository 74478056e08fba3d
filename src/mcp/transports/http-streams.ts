import type { ServerResponse } from 'node:http';
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse } from '../jsonrpc.js';

export const idKey = (id: JsonRpcId | null): string => (typeof id === 'number' ? `n${id}` : `s${id}`);

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // Tells nginx-style proxies not to buffer the stream.
  'X-Accel-Buffering': 'no',
};

const KEEPALIVE_MS = 15_000;
/** setTimeout's longest delay; a later deadline is simply not enforced by a timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `end` at `endAt` (ms since the epoch); returns the timer, to clear when the stream closes first. */
export function endStreamAt(endAt: number, end: () => void): NodeJS.Timeout | undefined {
  const delay = endAt - Date.now();
  if (delay > MAX_TIMER_MS) return undefined;
  const timer = setTimeout(end, Math.max(0, delay));
  timer.unref();
  return timer;
}

function sseEvent(message: JsonRpcMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * The answer to one POST: a plain JSON body when the response is the only thing to send (the
 * fast path), switching to an SSE stream as soon as a notification or server request for one of
 * its requests must go first. Ends once every request in it has its response.
 */
export class PostResponse {
  private readonly awaiting: Set<string>;
  private readonly collected: JsonRpcResponse[] = [];
  private streaming = false;
  private ended = false;

  constructor(private readonly res: ServerResponse, requestIds: JsonRpcId[], private readonly batch: boolean, private readonly headers: Record<string, string>) {
    this.awaiting = new Set(requestIds.map(idKey));
    res.once('close', () => { this.ended = true; });
  }

  get open(): boolean {
    return !this.ended;
  }

  /** Sends a message on this response; false when the HTTP response is already gone. */
  send(message: JsonRpcMessage, isResponse: boolean): boolean {
    if (this.ended) return false;
    if (isResponse) {
      const key = idKey((message as JsonRpcResponse).id);
      if (!this.awaiting.delete(key)) return false;
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

  constructor(private readonly res: ServerResponse, headers: Record<string, string>, onClose: () => void, endAt = Infinity) {
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
