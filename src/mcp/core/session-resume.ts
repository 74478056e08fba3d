import type { GatewayConfig } from '../../config/schema.js';
import { GatewayError, StorageUnavailable } from '../../web/errors.js';
import { ErrorCode, type JsonRpcRequest } from '../jsonrpc.js';
import type { McpBridge } from './bridge.js';
import type { Claim, SessionRecord, SessionRecords } from './session-records.js';
import type { McpSession, SessionOwner } from './session.js';
import type { MessageSink } from './sink.js';

/** What resuming found: the session (open here now), or the replica that holds it; none is answered like an unknown id. */
export type Resumed = McpSession | { holder: string } | undefined;

/** The client's initialize again, as its record keeps it: the session reopens exactly as it was negotiated. */
function initializeOf(record: SessionRecord): JsonRpcRequest {
  return {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: record.protocolVersion, capabilities: record.clientCapabilities, clientInfo: record.clientInfo },
  };
}

/**
 * Opens again, under its id, a 2025 session this replica does not hold but the store has a record
 * of: after `kill -9` and a restart, or when the replica holding it died. Its process is started
 * or reused as for an initialize, within the same caps. Calls in flight at the crash were lost
 * with their connections; nothing else was: the client goes on on the same Mcp-Session-Id.
 */
export class SessionResumer {
  /** Resumptions under way, by id and caller: concurrent requests on one session wait for one. */
  private readonly resuming = new Map<string, Promise<Resumed>>();

  constructor(
    private readonly bridge: McpBridge,
    private readonly records: SessionRecords,
    private readonly servers: GatewayConfig['mcpServers'],
  ) {}

  /**
   * The caller's session `id` on `serverName`, from its record. Undefined when there is no such
   * session of the caller's, or when the server is per-session (its process, and the session's
   * state in it, died). `gone` names the replicas known to be dead (a forward to them failed).
   */
  resume(id: string, owner: SessionOwner, serverName: string, sink: MessageSink, gone: (replica: string) => boolean): Promise<Resumed> {
    const key = `${id}\u0000${owner.sub}\u0000${owner.clientId}\u0000${serverName}`;
    let pending = this.resuming.get(key);
    if (!pending) {
      pending = this.fromRecord(id, owner, serverName, sink, gone).finally(() => this.resuming.delete(key));
      this.resuming.set(key, pending);
    }
    return pending;
  }

  private async fromRecord(
    id: string,
    owner: SessionOwner,
    serverName: string,
    sink: MessageSink,
    gone: (replica: string) => boolean,
  ): Promise<Resumed> {
    let claim: Claim | undefined;
    try {
      claim = await this.records.claim(id, owner, serverName, gone);
    } catch (error) {
      throw new StorageUnavailable(error);
    }
    if (!claim || 'holder' in claim) return claim;
    const server = this.servers[serverName];
    if (!server || !('command' in server) || server.isolation === 'per-session') {
      await this.records.forget(id);
      return undefined;
    }
    const { record } = claim;
    const { session, response } = await this.bridge.initialize(serverName, owner, initializeOf(record), sink, record);
    if (session) {
      if (record.subscriptions?.length) this.bridge.resubscribe(session, record.subscriptions);
      return session;
    }
    // A cap leaves no room, or the server does not start: the record stays, for a retry.
    const error = response.error!;
    if (error.code === ErrorCode.LimitReached) throw new GatewayError(429, 'too_many_requests', error.message, { jsonRpcCode: error.code });
    throw new GatewayError(503, 'unavailable', error.message, { jsonRpcCode: error.code, expose: true });
  }
}
