import { randomBytes } from 'node:crypto';
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse } from '../jsonrpc.js';
import { idKey, type EventStream, type PostResponse } from '../transports/http-streams.js';

export interface ClientCapabilities {
  sampling?: object;
  elicitation?: object;
  roots?: object;
  [key: string]: unknown;
}

/**
 * One client's MCP session on one server. It belongs to the user who opened it; everything the
 * backend sends for it arrives through the deliver* methods, which only ever write to this
 * session's own HTTP responses.
 */
export class McpSession {
  readonly id: string;
  readonly createdAt = Date.now();
  lastActivity = this.createdAt;
  /** Ends the session at its maximum lifetime (limits.sessionLifetime), busy or not. */
  lifetimeTimer?: NodeJS.Timeout;
  protocolVersion = '2025-11-25';
  clientCapabilities: ClientCapabilities = {};
  readonly subscriptions = new Set<string>();
  eventStream?: EventStream;
  closed = false;
  /** Requests from this session still waiting for their response, by id, with the POST that carries them. */
  private readonly inFlight = new Map<string, PostResponse>();

  /** `idPrefix` names the replica holding the session, so any replica can route to it. */
  constructor(readonly sub: string, readonly serverName: string, readonly clientId: string, idPrefix = '') {
    this.id = `${idPrefix}${randomBytes(24).toString('base64url')}`;
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  get busy(): boolean {
    return this.inFlight.size > 0 || !!this.eventStream;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  isInFlight(id: JsonRpcId): boolean {
    return this.inFlight.has(idKey(id));
  }

  track(id: JsonRpcId, response: PostResponse): void {
    this.inFlight.set(idKey(id), response);
  }

  forget(id: JsonRpcId): void {
    this.inFlight.delete(idKey(id));
  }

  deliverResponse(response: JsonRpcResponse): void {
    if (response.id === null) return;
    const key = idKey(response.id);
    const post = this.inFlight.get(key);
    this.inFlight.delete(key);
    post?.send(response, true);
  }

  /** A message caused by one of this session's requests goes on that request's stream. */
  deliverRelated(relatedId: JsonRpcId | undefined, message: JsonRpcMessage): boolean {
    const post = relatedId === undefined ? undefined : this.inFlight.get(idKey(relatedId));
    if (post?.open && post.send(message, false)) return true;
    return this.deliverUnrelated(message);
  }

  deliverUnrelated(message: JsonRpcMessage): boolean {
    return this.eventStream?.send(message) ?? false;
  }

  /** Answers every request still waiting with an error, so no client is left hanging. */
  answerInFlight(code: number, message: string): void {
    for (const [key, post] of this.inFlight) {
      const id = key.startsWith('n') ? Number(key.slice(1)) : key.slice(1);
      post.send({ jsonrpc: '2.0', id, error: { code, message } }, true);
    }
    this.inFlight.clear();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.lifetimeTimer);
    this.eventStream?.close();
    this.inFlight.clear();
  }
}
