import type { IncomingMessage } from 'node:http';
import { FORWARDED_HEADER, type SessionForwarder } from '../cluster/session-forwarder.js';
import type { McpBridge } from '../core/bridge.js';
import type { SessionOwner } from '../core/session.js';
import type { SessionResumer } from '../core/session-resume.js';
import { StreamableHttpSink } from './http-session-sink.js';
import { sessionIdOf } from './http-request.js';

/** At most this many replicas found dead for one request before it is answered here (404 if need be). */
const MAX_DEAD_REPLICAS = 3;
/** Sessions remembered as taken over by another replica (forgotten all at once past this many). */
const MAX_MOVED = 10_000;

/**
 * Where a request on a 2025 session is served: by the replica holding the session in memory, or,
 * when none does any more (a restart, a replica's death), here after resuming it from its record.
 */
export class SessionRouting {
  /** Sessions another replica took over when the one named in their id died: requests go straight there. */
  private readonly movedTo = new Map<string, string>();

  constructor(
    private readonly bridge: McpBridge,
    private readonly resumer?: SessionResumer,
    private readonly forwarder?: SessionForwarder,
  ) {}

  /**
   * The replica holding the request's session when it is another one and the request was not
   * forwarded already: the one named in the session id, or the one known to have taken the
   * session over. None when this replica holds the session itself.
   */
  foreignHolder(req: IncomingMessage, owner: SessionOwner, serverName: string): string | undefined {
    const replica = this.forwarder?.foreignOwner(req);
    const id = sessionIdOf(req);
    if (!replica || !id || this.bridge.find(id, owner, serverName)) return undefined;
    return this.movedTo.get(id) ?? replica;
  }

  /**
   * Before a stdio server's session is served here: a session this replica does not hold is
   * resumed from its record. Returns the replica to send the request to instead, when another
   * one took the session over first. `dead`: the replicas that refused this request's forward.
   */
  async resumeHere(req: IncomingMessage, owner: SessionOwner, serverName: string, dead: string[]): Promise<string | undefined> {
    const id = sessionIdOf(req);
    if (!id || !this.resumer || this.bridge.find(id, owner, serverName)) return undefined;
    // A request forwarded here was meant for whoever held the session at this address: if that is
    // not this replica, it is gone. Forwarded once, a request is never forwarded again.
    const forwarded = !!req.headers[FORWARDED_HEADER];
    const gone = forwarded ? () => true : (replica: string) => dead.includes(replica);
    const resumed = await this.resumer.resume(id, owner, serverName, new StreamableHttpSink(), gone);
    this.movedTo.delete(id);
    if (!resumed || !('holder' in resumed) || forwarded || dead.length >= MAX_DEAD_REPLICAS || !this.forwarder) return undefined;
    if (this.movedTo.size >= MAX_MOVED) this.movedTo.clear();
    this.movedTo.set(id, resumed.holder);
    return resumed.holder;
  }
}
