import { randomBytes } from 'node:crypto';
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse } from '../jsonrpc.js';
import { LATEST_PROTOCOL_VERSION } from '../protocol.js';
import type { MessageSink } from './sink.js';

export interface ClientCapabilities {
  sampling?: object;
  elicitation?: object;
  roots?: object;
  [key: string]: unknown;
}

let statelessScopes = 0;

/** Who a session belongs to: the person and the client (registration) their token was issued to. */
export interface SessionOwner {
  sub: string;
  clientId: string;
}

/** What a session resumed from its record keeps: its id, and when it began (for its maximum lifetime). */
export interface ResumedSession {
  id: string;
  createdAt: number;
}

/**
 * One client's MCP session on one server. It belongs to the person and client that opened it;
 * everything the process sends for it goes to its own sink, which its transport gave it. It knows
 * which of its requests still wait for an answer, so none is left hanging when it ends.
 */
export class McpSession {
  readonly id: string;
  readonly sub: string;
  readonly clientId: string;
  readonly createdAt: number;
  lastActivity = Date.now();
  /** When the session's record was last written to the store (0: never). */
  recordedAt = 0;
  /** Ends the session at its maximum lifetime (limits.sessionLifetime), busy or not. */
  lifetimeTimer?: NodeJS.Timeout;
  protocolVersion = LATEST_PROTOCOL_VERSION;
  clientCapabilities: ClientCapabilities = {};
  /** The clientInfo of the client's initialize, as sent: a per-session process is initialized with it. */
  clientInfo?: unknown;
  readonly subscriptions = new Set<string>();
  closed = false;
  /** Ids of this session's requests still waiting for their answer: a Set keeps 1 and "1" apart. */
  private readonly inFlight = new Set<JsonRpcId>();

  /**
   * `idPrefix` names the replica holding the session, so any replica can route to it. A
   * `stateless` one is the scope of one modern-era request (or one parked call): never findable
   * by its id, never counted as a session, and it needs no unguessable id. A session `resumed`
   * from its record (after a restart, or on another replica) keeps its id and `createdAt`.
   */
  constructor(
    owner: SessionOwner,
    readonly serverName: string,
    readonly sink: MessageSink,
    idPrefix = '',
    readonly stateless = false,
    resumed?: ResumedSession,
  ) {
    this.sub = owner.sub;
    this.clientId = owner.clientId;
    this.id = stateless ? `${idPrefix}~${++statelessScopes}` : (resumed?.id ?? `${idPrefix}${randomBytes(24).toString('base64url')}`);
    this.createdAt = resumed?.createdAt ?? this.lastActivity;
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  /** Answering a request or holding a stream open: never evicted or expired as idle. */
  get busy(): boolean {
    return this.inFlight.size > 0 || this.sink.listening;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  isInFlight(id: JsonRpcId): boolean {
    return this.inFlight.has(id);
  }

  /** A request of this session now waits for its answer. */
  track(id: JsonRpcId): void {
    this.inFlight.add(id);
  }

  /** The answer to one of this session's requests; one it no longer waits for is dropped. */
  answer(response: JsonRpcResponse): void {
    if (response.id === null || !this.inFlight.delete(response.id)) return;
    this.sink.send(response, { relatedRequestId: response.id });
  }

  /** The client cancelled a request: no answer follows, and what carries it may end. */
  cancel(id: JsonRpcId): void {
    if (this.inFlight.delete(id)) this.sink.abandon(id);
  }

  /** A message caused by one of this session's requests goes with that request when it can. */
  sendRelated(relatedId: JsonRpcId | undefined, message: JsonRpcMessage): boolean {
    return this.sink.send(message, relatedId === undefined ? undefined : { relatedRequestId: relatedId });
  }

  sendUnrelated(message: JsonRpcMessage): boolean {
    return this.sink.send(message);
  }

  /** Answers every request still waiting with an error, so no client is left hanging. */
  answerInFlight(code: number, message: string): void {
    if (this.inFlight.size === 0) return;
    for (const id of [...this.inFlight]) this.answer({ jsonrpc: '2.0', id, error: { code, message } });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.lifetimeTimer);
    this.inFlight.clear();
    this.sink.close();
  }
}
