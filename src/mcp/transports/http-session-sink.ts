import type { ServerResponse } from 'node:http';
import type { MessageSink, SendOptions } from '../core/sink.js';
import { isRequest, isResponse, type JsonRpcId, type JsonRpcMessage } from '../jsonrpc.js';
import { sendEnded, type EventStream, type PostResponse } from './http-streams.js';
import { ReplayWindow, STANDALONE_STREAM } from './sse-replay.js';

/**
 * A Streamable HTTP session's side of the seam: which POST carries each request still waiting
 * for its answer, and the session's GET stream for messages that belong to no request.
 */
export class StreamableHttpSink implements MessageSink {
  /** The POST carrying each request, by the request's id as the client sent it. */
  private readonly carriers = new Map<JsonRpcId, PostResponse>();
  private stream?: EventStream;
  /** The client has listened on a GET stream: while it reconnects, notifications wait in the replay window. */
  private listened = false;
  /** The session's recent SSE events, for clients that reconnect with Last-Event-ID. */
  readonly replay = new ReplayWindow();

  get eventStream(): EventStream | undefined {
    return this.stream;
  }

  set eventStream(stream: EventStream | undefined) {
    this.stream = stream;
    if (stream) this.listened = true;
  }

  get listening(): boolean {
    return !!this.eventStream;
  }

  stopListening(): void {
    this.eventStream?.close();
  }

  /** A POST now carries these requests: their answers and related messages go on it. */
  carry(requestIds: JsonRpcId[], post: PostResponse): void {
    for (const id of requestIds) this.carriers.set(id, post);
  }

  send(message: JsonRpcMessage, options?: SendOptions): boolean {
    if (isResponse(message)) {
      if (message.id === null) return false;
      const post = this.carriers.get(message.id);
      this.carriers.delete(message.id);
      return post?.send(message, true) ?? false;
    }
    const related = options?.relatedRequestId;
    const post = related === undefined ? undefined : this.carriers.get(related);
    if (post?.open && post.send(message, false)) return true;
    if (this.stream) return this.stream.send(message);
    // A server request is refused at once rather than left waiting for a reconnect that may not come.
    if (this.listened && !isRequest(message)) this.replay.event(STANDALONE_STREAM, message);
    return false;
  }

  /**
   * A GET with the Last-Event-ID of POST stream `stream`: the events missed, then the rest of the
   * stream while its requests wait for answers (or the end, when the stream had ended).
   */
  resumePost(stream: number, missed: string[], res: ServerResponse, headers: Record<string, string>): void {
    for (const post of this.carriers.values()) {
      if (post.streamId === stream) return post.resumeOn(res, headers, missed);
    }
    sendEnded(res, headers, missed);
  }

  abandon(requestId: JsonRpcId): void {
    const post = this.carriers.get(requestId);
    this.carriers.delete(requestId);
    post?.abandon(requestId);
  }

  close(): void {
    this.eventStream?.close();
    this.carriers.clear();
  }
}
