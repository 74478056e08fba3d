import type { MessageSink, SendOptions } from '../core/sink.js';
import { isResponse, type JsonRpcId, type JsonRpcMessage } from '../jsonrpc.js';
import type { EventStream, PostResponse } from './http-streams.js';

/**
 * A Streamable HTTP session's side of the seam: which POST carries each request still waiting
 * for its answer, and the session's GET stream for messages that belong to no request.
 */
export class StreamableHttpSink implements MessageSink {
  /** The POST carrying each request, by the request's id as the client sent it. */
  private readonly carriers = new Map<JsonRpcId, PostResponse>();
  eventStream?: EventStream;

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
    return this.eventStream?.send(message) ?? false;
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
