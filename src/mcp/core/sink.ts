import type { JsonRpcId, JsonRpcMessage } from '../jsonrpc.js';

export interface SendOptions {
  /** The client request this message belongs to (a response's own id, or the call that raised it). */
  relatedRequestId?: JsonRpcId;
}

/**
 * Where the core writes one session's messages, as the MCP SDK's Transport.send does: the core says
 * which request a message belongs to and the transport decides which stream carries it (a POST's
 * response, the standalone GET stream, or whatever a later wire has). The core never sees HTTP.
 */
export interface MessageSink {
  /**
   * A response goes to the request it answers. Another message goes with `relatedRequestId` while
   * that request's stream is open, else on the session's standalone stream. False when nothing
   * could carry it.
   */
  send(message: JsonRpcMessage, options?: SendOptions): boolean;
  /** No response will come for this request (the client cancelled it): whatever carries it may end. */
  abandon(requestId: JsonRpcId): void;
  /** The client holds a stream open for messages of no request: the session is in use. */
  readonly listening: boolean;
  /** Ends that stream only (at shutdown, so idle listeners do not hold the server open). */
  stopListening(): void;
  /**
   * The process asked the client for something (sampling, elicitation, roots) it did not declare;
   * the process was refused. A wire that can say so to the client (MCP 2026-07-28's -32021) does.
   */
  missingCapability?(relatedRequestId: JsonRpcId | undefined, capability: string): void;
  /** The session ended: every stream ends. */
  close(): void;
}
