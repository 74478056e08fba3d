import type { ServerResponse } from 'node:http';
import type { MessageSink } from '../core/sink.js';
import { isNotification, type JsonRpcId, type JsonRpcMessage } from '../jsonrpc.js';
import { META } from '../protocol.js';
import { EventStream } from './http-streams.js';
import { wantedOnStream, type SubscriptionFilter } from './modern-results.js';

/**
 * A subscriptions/listen stream (MCP 2026-07-28): the sink of a scope that holds the response
 * open and carries the change notifications it acknowledged, each tagged with the subscription's
 * id. It opens with the acknowledgement, ends when the client closes it or its token expires, and
 * at shutdown ends gracefully with the listen request's own result.
 */
export class ListenStream implements MessageSink {
  private stream?: EventStream;
  private filter: SubscriptionFilter = {};

  constructor(private readonly subscriptionId: JsonRpcId) {}

  get listening(): boolean {
    return !!this.stream;
  }

  /** Starts the stream with its acknowledgement; `onClose` runs once it ends, whoever ends it. */
  open(res: ServerResponse, headers: Record<string, string>, filter: SubscriptionFilter, endAt: number, onClose: () => void): void {
    this.filter = filter;
    this.stream = new EventStream(
      res,
      headers,
      () => {
        this.stream = undefined;
        onClose();
      },
      endAt,
    );
    this.stream.send({
      jsonrpc: '2.0',
      method: 'notifications/subscriptions/acknowledged',
      params: { _meta: { [META.subscriptionId]: this.subscriptionId }, notifications: filter },
    });
  }

  send(message: JsonRpcMessage): boolean {
    if (!this.stream || !isNotification(message) || !wantedOnStream(this.filter, message.method)) return false;
    const params = message.params ?? {};
    const meta = params._meta && typeof params._meta === 'object' ? params._meta : {};
    return this.stream.send({ ...message, params: { ...params, _meta: { ...meta, [META.subscriptionId]: this.subscriptionId } } });
  }

  abandon(): void {}

  /** The gateway ends the subscription (shutdown): the listen request's result says it ended cleanly. */
  stopListening(): void {
    this.stream?.send({
      jsonrpc: '2.0',
      id: this.subscriptionId,
      result: { resultType: 'complete', _meta: { [META.subscriptionId]: this.subscriptionId } },
    });
    this.stream?.close();
  }

  close(): void {
    this.stream?.close();
  }
}
