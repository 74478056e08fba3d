import { clientInfoForLog } from '../../log/bound.js';
import type { Logger } from '../../log/logger.js';
import type { KeyValueStore } from '../../storage/store.js';
import type { ClientCapabilities, McpSession, SessionOwner } from './session.js';

/**
 * What of a 2025 session outlives the gateway process holding it: who it belongs to and what was
 * negotiated at initialize. Never a token: the client sends its token with every request.
 */
export interface SessionRecord {
  id: string;
  sub: string;
  clientId: string;
  server: string;
  protocolVersion: string;
  clientCapabilities: ClientCapabilities;
  /** The client's name and version, for log lines only. */
  clientInfo?: Record<string, string>;
  createdAt: number;
  /** Coarse: rewritten at most every RECORD_REFRESH_MS, not on every request. */
  lastActivity: number;
  /** The replica holding the session now ('' without replicas). */
  holder: string;
  /** The resources it subscribed to (resources/subscribe), at most MAX_SUBSCRIPTIONS. */
  subscriptions?: string[];
}

const MAX_SUBSCRIPTIONS = 100;
const MAX_URI_LENGTH = 2048;

/** How often a live session's record is rewritten (its TTL renewed): never on the request path. */
export const RECORD_REFRESH_MS = 5 * 60 * 1000;

/** What the records need to know of the replicas sharing the store (none with embedded storage). */
export interface ReplicaView {
  readonly id: string;
  isAlive(replica: string): Promise<boolean>;
}

/** A record found for the caller: take the session over here, or send the request to the replica holding it. */
export type Claim = { record: SessionRecord } | { holder: string };

const recordKey = (id: string) => `mcp-session:${id}`;

/**
 * The store's copy of every open 2025 session, so that after `kill -9` and a restart, or when the
 * replica holding a session dies, the client's next request on the same Mcp-Session-Id finds it.
 * A record expires by itself: its TTL is the idle timeout plus the refresh interval, and never
 * past the session's maximum lifetime.
 */
export class SessionRecords {
  constructor(
    private readonly store: KeyValueStore,
    private readonly logger: Logger,
    private readonly idleTimeoutMs: number,
    private readonly lifetimeMs: number,
    private readonly replicas?: ReplicaView,
  ) {}

  private ttlSeconds(createdAt: number, now: number): number {
    return Math.max(1, Math.min(this.idleTimeoutMs + RECORD_REFRESH_MS, createdAt + this.lifetimeMs - now) / 1000);
  }

  /** Writes the session's record; a store that fails leaves the session working, only not durable. */
  async save(session: McpSession, now = Date.now()): Promise<void> {
    session.recordedAt = now;
    const record: SessionRecord = {
      id: session.id,
      sub: session.sub,
      clientId: session.clientId,
      server: session.serverName,
      protocolVersion: session.protocolVersion,
      clientCapabilities: session.clientCapabilities,
      clientInfo: clientInfoForLog(session.clientInfo),
      createdAt: session.createdAt,
      lastActivity: session.lastActivity,
      holder: this.replicas?.id ?? '',
      subscriptions: [...session.subscriptions].filter((uri) => uri.length <= MAX_URI_LENGTH).slice(0, MAX_SUBSCRIPTIONS),
    };
    try {
      await this.store.set(recordKey(session.id), record, this.ttlSeconds(session.createdAt, now));
    } catch (error) {
      this.logger.warn(
        { event: 'mcp.session.record_failed', sessionId: session.id.slice(-8), err: (error as Error).message },
        'could not record the MCP session: it will not survive a restart',
      );
    }
  }

  /** Renews the records of live sessions not written for RECORD_REFRESH_MS (from the bridge's sweep). */
  refresh(sessions: Iterable<McpSession>, now = Date.now()): void {
    for (const session of sessions) {
      if (session.recordedAt > 0 && now - session.recordedAt >= RECORD_REFRESH_MS) void this.save(session, now);
    }
  }

  /** The session ended (closed, expired or evicted): so does its record. */
  forget(id: string): Promise<void> {
    return this.store.delete(recordKey(id)).catch((error: unknown) => {
      this.logger.warn({ sessionId: id.slice(-8), err: (error as Error).message }, 'could not delete an MCP session record');
    });
  }

  /**
   * The record of a session this replica does not hold, when it is the caller's (same person,
   * client and server; anything else is answered like an unknown id). With replicas, the replica
   * named in the record keeps the session while it lives; once it is gone (`gone`: a forward to
   * it was refused), one replica takes the session over, atomically: the others are sent on to
   * it. Throws when the store is unreachable.
   */
  async claim(id: string, owner: SessionOwner, server: string, gone: (replica: string) => boolean): Promise<Claim | undefined> {
    const record = await this.store.get<SessionRecord>(recordKey(id));
    if (!record || record.sub !== owner.sub || record.clientId !== owner.clientId || record.server !== server) return undefined;
    const now = Date.now();
    if (now - record.createdAt >= this.lifetimeMs) {
      void this.forget(id);
      return undefined;
    }
    const replicas = this.replicas;
    if (!replicas) return { record };
    // Each claim key names the holder that died: the first replica to set it holds the session.
    // A winner that died in turn is claimed from the same way (a few times at most).
    let holder = record.holder;
    for (let step = 0; step < 4; step++) {
      if (holder === replicas.id) return { record };
      if (!gone(holder) && (await replicas.isAlive(holder))) return { holder };
      const claimKey = `mcp-session-claim:${id}:${holder}`;
      if (await this.store.setIfAbsent(claimKey, replicas.id, this.ttlSeconds(record.createdAt, now))) return { record };
      holder = (await this.store.get<string>(claimKey)) ?? replicas.id;
    }
    return undefined;
  }
}
