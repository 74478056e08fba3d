import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VerifiedAccessToken } from '../auth/token-verifier.js';
import { ErrorCode, errorResponse, LimitReached } from '../jsonrpc.js';
import { mcpError, sendJson } from '../json-rpc-errors.js';
import type { RemoteProxies } from '../remote/remote-proxy.js';
import type { RemoteSession } from '../remote/remote-sessions.js';
import { initializeRequest, refuseMisplacedInitialize, sessionIdOf, type PostedMessages } from './http-request.js';

/** One authenticated request on its way through the endpoint. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  token: VerifiedAccessToken;
  serverName: string;
  /** CORS headers for the caller's origin, on every answer. */
  headers: Record<string, string>;
}

/** A remote server: the session must be the caller's, and a new one must fit limits.sessionsPerPerson. */
export function viaRemote(
  remote: RemoteProxies,
  { req, res, token, serverName, headers }: Exchange,
  posted: PostedMessages | undefined,
): void {
  const sessionId = sessionIdOf(req);
  let session: RemoteSession | undefined;
  if (sessionId) {
    session = remote.sessions.find(sessionId, serverName, token.sub, token.client_id);
    if (!session) throw mcpError(404, 'Session not found', ErrorCode.SessionNotFound);
  }
  const initializing = posted && initializeRequest(req, posted);
  // An initialize in a batch would open an upstream session the cap never saw.
  if (posted && !initializing) refuseMisplacedInitialize(req, posted);
  if (initializing) {
    try {
      // Counted until the exchange ends; by then the session is recorded, or there is none.
      res.once('close', remote.sessions.makeRoom(serverName, token.sub));
    } catch (error) {
      if (!(error instanceof LimitReached)) throw error;
      sendJson(res, 200, errorResponse(initializing.id, ErrorCode.LimitReached, error.message), headers);
      return;
    }
  }
  remote.proxy(req, res, serverName, {
    sub: token.sub,
    clientId: token.client_id,
    tokenExpiresAt: token.exp! * 1000,
    body: posted?.body,
    session,
  });
}
