import type { ServerResponse } from 'node:http';
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse } from '../jsonrpc.js';
import { endStreamAt } from '../stream-deadline.js';
import { ReplayWindow, STANDALONE_STREAM } from './sse-replay.js';

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

/** Events a client missed, on a stream that has already ended: sent, and the response ends. */
export function sendEnded(res: ServerResponse, headers: Record<string, string>, missed: string[]): void {
  res.writeHead(200, { ...headers, ...SSE_HEADERS });
  for (const event of missed) res.write(event);
  res.end();
}

/**
 * The answer to one POST: a plain JSON body when the response is the only thing to send (the
 * fast path), switching to an SSE stream as soon as a notification or server request for one of
 * its requests must go first. Ends once every request in it is answered or abandoned. As a stream,
 * it outlives its connection: what it carries meanwhile waits in the session's replay window for
 * the client to reconnect with Last-Event-ID (resumeOn).
 */
export class PostResponse {
  /** Ids as they are: 1 and "1" are two requests. */
  private readonly awaiting: Set<JsonRpcId>;
  private readonly collected: JsonRpcResponse[] = [];
  /** Its number in the session's replay window, once it is an event stream. */
  streamId?: number;
  /** Every request answered or abandoned: nothing more goes on it. */
  private finished = false;
  /** The client's connection is gone. */
  private disconnected = false;

  constructor(
    private res: ServerResponse,
    requestIds: JsonRpcId[],
    private readonly batch: boolean,
    private readonly headers: Record<string, string>,
    private readonly replay = new ReplayWindow(),
  ) {
    this.awaiting = new Set(requestIds);
    this.watch(res);
  }

  private watch(res: ServerResponse): void {
    res.once('close', () => {
      if (this.res === res) this.disconnected = true;
    });
  }

  /** Still carrying messages: connected, or an event stream the client can resume. */
  get open(): boolean {
    return !this.finished && (!this.disconnected || this.streamId !== undefined);
  }

  /** Sends a message on this response; false when nothing can carry it any more. */
  send(message: JsonRpcMessage, isResponse: boolean): boolean {
    if (!this.open) return false;
    if (isResponse) {
      if (!this.awaiting.delete((message as JsonRpcResponse).id!)) return false;
      if (this.streamId === undefined) {
        this.collected.push(message as JsonRpcResponse);
        if (this.awaiting.size === 0) this.finishJson();
        return true;
      }
    }
    if (this.streamId === undefined) this.startStream();
    this.write(this.replay.event(this.streamId!, message));
    if (isResponse && this.awaiting.size === 0) this.end();
    return true;
  }

  /**
   * No response will come for this request (the client cancelled it). Once nothing else is
   * awaited the HTTP response ends: with the answers collected so far, or as an event stream
   * with nothing in it (a POST of requests is answered with JSON or a stream, never empty).
   */
  abandon(id: JsonRpcId): void {
    if (this.finished || !this.awaiting.delete(id) || this.awaiting.size > 0) return;
    if (this.disconnected && this.streamId === undefined) {
      this.finished = true;
      return;
    }
    if (this.streamId === undefined && this.collected.length > 0) {
      this.finishJson();
      return;
    }
    if (this.streamId === undefined) this.startStream();
    this.end();
  }

  /** The client reconnected with Last-Event-ID: what it missed, then the rest of the stream, go on `res`. */
  resumeOn(res: ServerResponse, headers: Record<string, string>, missed: string[]): void {
    if (!this.disconnected) this.res.end();
    this.res = res;
    this.disconnected = false;
    this.watch(res);
    res.writeHead(200, { ...headers, ...SSE_HEADERS });
    res.flushHeaders();
    for (const event of missed) res.write(event);
    if (this.finished) res.end();
  }

  private write(event: string): void {
    if (!this.disconnected) this.res.write(event);
  }

  private finishJson(): void {
    const body = JSON.stringify(this.batch ? this.collected : this.collected[0]);
    this.res.writeHead(200, { ...this.headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    this.res.end(body);
    this.finished = true;
  }

  private startStream(): void {
    this.streamId = this.replay.openStream();
    this.res.writeHead(200, { ...this.headers, ...SSE_HEADERS });
    this.res.flushHeaders();
    for (const response of this.collected) this.write(this.replay.event(this.streamId, response));
    this.collected.length = 0;
  }

  private end(): void {
    this.finished = true;
    if (!this.disconnected) this.res.end();
  }
}

/**
 * The session's standalone GET stream, for messages that belong to no request. It ends at
 * `endAt` (the token's expiry): the client reconnects with a fresh token (and Last-Event-ID).
 */
export class EventStream {
  private readonly keepalive: NodeJS.Timeout;
  private readonly deadline?: NodeJS.Timeout;
  private closed = false;

  /** `missed`: the events a client reconnecting with Last-Event-ID missed, sent first. */
  constructor(
    private readonly res: ServerResponse,
    headers: Record<string, string>,
    onClose: () => void,
    endAt = Infinity,
    private readonly replay = new ReplayWindow(),
    missed: string[] = [],
  ) {
    res.writeHead(200, { ...headers, ...SSE_HEADERS });
    res.flushHeaders();
    for (const event of missed) res.write(event);
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
    this.res.write(this.replay.event(STANDALONE_STREAM, message));
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
