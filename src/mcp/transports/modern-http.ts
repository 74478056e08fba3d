// The modern wire (MCP 2026-07-28) on the same /mcp/<server> URL as the sessions of 2025: every
// POST describes itself, is checked, and runs in a scope of its own on the person's warm process.
// Legacy stdio servers behind it are translated: results, discovery, MRTR and subscriptions.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { asGatewayError, GatewayError } from '../../web/errors.js';
import type { VerifiedAccessToken } from '../auth/token-verifier.js';
import type { SessionForwarder } from '../cluster/session-forwarder.js';
import type { McpBridge } from '../core/bridge.js';
import type { McpSession, SessionOwner } from '../core/session.js';
import type { MessageSink } from '../core/sink.js';
import { ErrorCode, isRequest, LimitReached, type JsonRpcError, type JsonRpcMessage, type JsonRpcRequest } from '../jsonrpc.js';
import { mcpError, sendJson, sendJsonRpcError } from '../json-rpc-errors.js';
import { ListenStream } from './listen-stream.js';
import { passThrough } from './native-modern.js';
import { ModernCall } from './modern-call.js';
import {
  checkMirroredHeaders,
  checkStandardHeaders,
  mirroredParameters,
  modernMetaOf,
  type MirroredParameter,
  type ModernMeta,
} from './modern-request.js';
import { acknowledgedFilter, discoverResult, modernResult, type CacheHints, type SubscriptionFilter } from './modern-results.js';
import { ParkedCalls, type CallBinding } from './parked-calls.js';

/** Methods of the session era that 2026-07-28 removed: a modern request for one is told so. */
const REMOVED = new Set(['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']);
const MAX_PARKED_PER_PERSON = 32;

/** One authenticated modern request. */
export interface ModernExchange {
  req: IncomingMessage;
  res: ServerResponse;
  token: VerifiedAccessToken;
  serverName: string;
  headers: Record<string, string>;
  /** The body as sent, and the bearer token, for a retry that belongs to another replica. */
  body: Buffer;
  authorization: string;
}

export interface ModernWireOptions {
  bridge: McpBridge;
  logger: Logger;
  servers: Record<string, unknown>;
  /** Secret behind every requestState (derived, never used as is). */
  stateSecret: string;
  /** Names this replica in requestState ids, as in session ids. */
  idPrefix: string;
  /** With replicas: a retry whose call is parked on another replica goes there. */
  forwarder?: SessionForwarder;
}

const ownerOf = (token: VerifiedAccessToken): SessionOwner => ({ sub: token.sub, clientId: token.client_id });

/**
 * The modern-era adapter of the MCP endpoint. Its requests reach the core as scopes (stateless
 * sessions of one request); it never opens a session, and a refusal names what to fix.
 */
export class ModernHttpWire {
  private readonly parked: ParkedCalls;
  /** Tool parameters each server mirrors into Mcp-Param-* headers, from its latest tools/list. */
  private readonly mirrored = new Map<string, Map<string, MirroredParameter[]>>();
  private readonly listens = new Map<string, number>();

  constructor(private readonly options: ModernWireOptions) {
    const key = createHash('sha256').update('mcpgw request state v1').update(options.stateSecret).digest();
    this.parked = new ParkedCalls(key, options.idPrefix, MAX_PARKED_PER_PERSON);
  }

  /** A modern POST: answered, or refused with the request's own id. */
  async post(exchange: ModernExchange, message: JsonRpcMessage): Promise<void> {
    const { res, headers } = exchange;
    if (!('method' in message)) throw mcpError(400, 'Invalid Request: send requests or notifications, never responses');
    // Cancellation is closing the stream; no client notification means anything here.
    if (!isRequest(message)) return void res.writeHead(202, headers).end();
    try {
      await this.dispatch(exchange, message);
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      const refusal =
        error instanceof LimitReached ? mcpError(200, error.message, ErrorCode.LimitReached) : (asGatewayError(error) as GatewayError);
      if (!(error instanceof GatewayError) && !(error instanceof LimitReached))
        this.options.logger.error({ err: error, server: exchange.serverName }, 'MCP request failed');
      sendJsonRpcError(res, refusal, headers, message.id);
    }
  }

  private async dispatch(exchange: ModernExchange, request: JsonRpcRequest): Promise<void> {
    const { req } = exchange;
    const meta = modernMetaOf(req.headers, request);
    checkStandardHeaders(req.headers, request);
    const { method } = request;
    if (REMOVED.has(method))
      throw mcpError(404, `Method not found: ${method} is not part of MCP ${meta.protocolVersion}`, ErrorCode.MethodNotFound);
    // A stdio server that speaks this era itself gets the request as it was sent (native-modern.ts).
    const { bridge } = this.options;
    if (bridge.serves(exchange.serverName) && (await bridge.native.speaksModern(exchange.serverName)))
      return passThrough(bridge.native, exchange, request, meta);
    if (method === 'server/discover') return this.discover(exchange, request, meta);
    if (method === 'subscriptions/listen') return this.listen(exchange, request, meta);
    if (method === 'tools/call') {
      const mirrored = this.mirrored.get(exchange.serverName)?.get(String(request.params?.name));
      if (mirrored) checkMirroredHeaders(req.headers, request, mirrored);
    }
    const answers = inputResponsesOf(request);
    const state = request.params?.requestState;
    const owner = typeof state === 'string' ? this.options.forwarder?.foreignOwnerOf(req, state) : undefined;
    if (owner) return this.options.forwarder!.forwardRead(req, exchange.res, owner, exchange.body, exchange.authorization);
    if (state !== undefined) return this.resume(exchange, request, answers);
    return this.call(exchange, request, meta, answers);
  }

  private hintsFor(serverName: string): CacheHints {
    const { cache, isolation } = this.options.servers[serverName] as StdioServerConfig;
    // What one person's process answers may be theirs alone: private unless the server is shared.
    return { ttlMs: cache.ttl * 1000, cacheScope: cache.scope ?? (isolation === 'shared' ? 'public' : 'private') };
  }

  private openScope({ serverName, token }: ModernExchange, meta: ModernMeta, sink: MessageSink): Promise<McpSession> {
    return this.options.bridge.openScope(serverName, ownerOf(token), meta.clientCapabilities, sink).catch((error: unknown) => {
      if (error instanceof LimitReached) throw error;
      throw mcpError(200, (error as Error).message, ErrorCode.ServerUnavailable);
    });
  }

  /** server/discover, from what the server said at initialize (its process is started for it). */
  private async discover(exchange: ModernExchange, request: JsonRpcRequest, meta: ModernMeta): Promise<void> {
    const { bridge } = this.options;
    const scope = await this.openScope(exchange, meta, new ModernCall(undefined, NO_HOOKS));
    const initialized = bridge.initializeResultOf(scope);
    bridge.closeSession(scope);
    const result = discoverResult(initialized, this.hintsFor(exchange.serverName));
    sendJson(exchange.res, 200, { jsonrpc: '2.0', id: request.id, result }, exchange.headers);
  }

  private binding({ token, serverName }: ModernExchange, request: JsonRpcRequest): CallBinding {
    const params = request.params ?? {};
    const name = request.method === 'resources/read' ? params.uri : params.name;
    return { sub: token.sub, clientId: token.client_id, serverName, method: request.method, name: String(name ?? '') };
  }

  /** A new call: a scope of its own on the person's process, answered on this response. */
  private async call(exchange: ModernExchange, request: JsonRpcRequest, meta: ModernMeta, answers: Record<string, unknown>): Promise<void> {
    const { bridge } = this.options;
    const { serverName } = exchange;
    const binding = this.binding(exchange, request);
    const ttlMs = (this.options.servers[serverName] as StdioServerConfig).callTimeout * 1000;
    const call: ModernCall = new ModernCall(meta.logLevel, {
      translate: (result) => {
        if (request.method === 'tools/list') this.learnTools(serverName, result);
        const serverInfo = call.scope ? bridge.initializeResultOf(call.scope)?.serverInfo : undefined;
        return modernResult(request.method, result, serverInfo, this.hintsFor(serverName));
      },
      translateError: (error) => modernError(request, error),
      park: (parking) => this.parked.park(parking, binding, ttlMs),
      deliver: (responses) => {
        if (call.scope) bridge.receive(call.scope, responses);
      },
      ended: (ended) => {
        this.parked.forget(ended);
        if (ended.scope) bridge.closeSession(ended.scope);
      },
    });
    call.attach(exchange.res, request.id, exchange.headers);
    call.answerAhead(answers);
    const scope = await this.openScope(exchange, meta, call);
    call.scope = scope;
    if (call.done) return bridge.closeSession(scope);
    bridge.receive(scope, [withoutInputs(request)]);
  }

  /** The retry of a parked call: its answers go to the waiting process, and this response carries what follows. */
  private resume(exchange: ModernExchange, request: JsonRpcRequest, answers: Record<string, unknown>): void {
    const { requestState } = request.params ?? {};
    if (typeof requestState !== 'string') throw mcpError(400, 'Invalid params: requestState must be a string', ErrorCode.InvalidParams);
    const call = this.parked.take(requestState, this.binding(exchange, request));
    call.resume(exchange.res, request.id, exchange.headers, answers);
  }

  /** subscriptions/listen: a scope that stays open and carries the change notifications acknowledged. */
  private async listen(exchange: ModernExchange, request: JsonRpcRequest, meta: ModernMeta): Promise<void> {
    const { bridge } = this.options;
    // The server's limits.sessionsPerPerson also caps one person's subscription streams on it.
    const listensPerPerson = (this.options.servers[exchange.serverName] as StdioServerConfig).limits.sessionsPerPerson;
    const requested = request.params?.notifications;
    if (!requested || typeof requested !== 'object' || Array.isArray(requested))
      throw mcpError(400, 'Invalid params: notifications (the subscription filter) must be an object', ErrorCode.InvalidParams);
    const key = `${exchange.serverName}\u0000${exchange.token.sub}`;
    const open = this.listens.get(key) ?? 0;
    if (open >= listensPerPerson)
      throw new LimitReached(`you already have ${open} subscription streams open on this server (limits.sessionsPerPerson)`);
    // Counted before the wait for the process, so streams opened at once cannot pass the cap together.
    this.listens.set(key, open + 1);
    const release = () => {
      const left = (this.listens.get(key) ?? 1) - 1;
      if (left > 0) this.listens.set(key, left);
      else this.listens.delete(key);
    };
    const stream = new ListenStream(request.id);
    let scope: McpSession;
    try {
      scope = await this.openScope(exchange, meta, stream);
    } catch (error) {
      release();
      throw error;
    }
    if (exchange.res.destroyed) {
      // The client left while the process started: no stream to hold open.
      release();
      return bridge.closeSession(scope);
    }
    const filter = acknowledgedFilter(requested as SubscriptionFilter, bridge.initializeResultOf(scope)?.capabilities);
    stream.open(exchange.res, exchange.headers, filter, exchange.token.exp! * 1000, () => {
      release();
      bridge.closeSession(scope);
    });
    if (filter.resourceSubscriptions?.length) bridge.watch(scope, filter.resourceSubscriptions);
  }

  /** Remembers which tool parameters the server mirrors into headers, to check the calls that follow. */
  private learnTools(serverName: string, result: unknown): void {
    const tools = (result as { tools?: unknown } | undefined)?.tools;
    if (!Array.isArray(tools)) return;
    let known = this.mirrored.get(serverName);
    if (!known) this.mirrored.set(serverName, (known = new Map()));
    for (const tool of tools as Array<{ name?: unknown; inputSchema?: unknown }>) {
      if (typeof tool?.name !== 'string') continue;
      const mirrored = mirroredParameters(tool.inputSchema);
      if (mirrored.length > 0) known.set(tool.name, mirrored);
      else known.delete(tool.name);
    }
  }
}

const NO_HOOKS = {
  translate: (result: unknown) => result as Record<string, unknown>,
  translateError: (error: JsonRpcError) => error,
  park: () => '',
  deliver: () => undefined,
  ended: () => undefined,
};

/** The answers a request carries (inputResponses): each one a result object, or a -32602 naming the bad one. */
function inputResponsesOf(request: JsonRpcRequest): Record<string, unknown> {
  const params = request.params ?? {};
  if (!Object.hasOwn(params, 'inputResponses')) return {};
  const answers = params.inputResponses;
  if (!answers || typeof answers !== 'object' || Array.isArray(answers))
    throw mcpError(400, 'Invalid params: inputResponses must be an object of answers by key', ErrorCode.InvalidParams);
  for (const [key, answer] of Object.entries(answers))
    if (!answer || typeof answer !== 'object' || Array.isArray(answer))
      throw mcpError(400, `Invalid params: inputResponses.${key} must be a result object`, ErrorCode.InvalidParams);
  return answers as Record<string, unknown>;
}

/** The request as a legacy server should see it: the MRTR fields are the gateway's to handle. */
function withoutInputs(request: JsonRpcRequest): JsonRpcRequest {
  if (!request.params || !('inputResponses' in request.params || 'requestState' in request.params)) return request;
  const { inputResponses: _answers, requestState: _state, ...params } = request.params;
  return { ...request, params };
}

/** -32002 meant "resource not found" before 2026-07-28, which says -32602 with the uri in data. */
function modernError(request: JsonRpcRequest, error: JsonRpcError): JsonRpcError {
  if (error.code !== -32002 || request.method !== 'resources/read') return error;
  const data = error.data && typeof error.data === 'object' ? error.data : {};
  return { ...error, code: ErrorCode.InvalidParams, data: { uri: request.params?.uri, ...data } };
}
