import type { McpSession } from './session.js';

/**
 * The resource URIs a process is subscribed to on behalf of subscription streams of the modern
 * wire: the gateway subscribes when the first stream wants a URI and unsubscribes when the last
 * one leaves, so a legacy server sees one subscriber however many clients listen.
 */
export class ResourceWatchers {
  private readonly counts = new Map<string, number>();

  constructor(private readonly tell: (method: 'resources/subscribe' | 'resources/unsubscribe', uri: string) => void) {}

  watched(uri: string): boolean {
    return this.counts.has(uri);
  }

  watch(session: McpSession, uris: string[]): void {
    for (const uri of uris) {
      if (session.subscriptions.has(uri)) continue;
      session.subscriptions.add(uri);
      const count = (this.counts.get(uri) ?? 0) + 1;
      this.counts.set(uri, count);
      if (count === 1) this.tell('resources/subscribe', uri);
    }
  }

  /** A 2025 session resumed from its record subscribes again, as it had (the gateway asks for it). */
  resubscribe(session: McpSession, uris: string[]): void {
    for (const uri of uris) {
      session.subscriptions.add(uri);
      this.tell('resources/subscribe', uri);
    }
  }

  /** A stream ended: what it alone wanted is unsubscribed. */
  unwatch(session: McpSession): void {
    if (!session.stateless) return;
    for (const uri of session.subscriptions) {
      const count = (this.counts.get(uri) ?? 1) - 1;
      if (count > 0) this.counts.set(uri, count);
      else {
        this.counts.delete(uri);
        this.tell('resources/unsubscribe', uri);
      }
    }
  }
}
