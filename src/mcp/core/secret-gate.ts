/**
 * Between a person's requests and a server that needs their secrets: a call the person's secrets
 * are missing for is explained where the person is (a tool error with the account page link, or,
 * for a client that takes URL-mode elicitation, a request to open that page, after which the call
 * goes on), and a tool's `secretArguments` are filled with the caller's own values.
 */
import { randomUUID } from 'node:crypto';
import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import {
  ErrorCode,
  errorResponse,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../jsonrpc.js';
import type { PersonalDependencies } from '../process/personal-spec.js';
import type { Router } from './router.js';
import { fillSecretArguments, secretArgumentsOf, secretsOfArguments } from '../process/secret-arguments.js';
import type { BridgeHooks } from './hooks.js';
import type { McpSession } from './session.js';

/** Listing what a server offers needs no secret: the model sees the tools, calls one, and learns what to set. */
const UNGATED = new Set(['ping', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']);

export type { PersonalDependencies };

/** What becomes of a request: sent on (perhaps with arguments filled), or answered here. */
export type Admission = { request: JsonRpcRequest } | { response: JsonRpcResponse };

const personKey = (serverName: string, sub: string) => `${serverName}\u0000${sub}`;

export class SecretGate {
  /** The names of each person's secrets set per server, until they change. */
  private readonly setNames = new Map<string, Promise<Set<string>>>();
  /** Who waits for a person's secrets of a server to change (an accepted elicitation). */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Elicitations the gateway sent, by session and the id it gave them. */
  private readonly elicitations = new Map<McpSession, Map<JsonRpcId, (response: JsonRpcResponse) => void>>();
  /** Requests of each session waiting here (for the person's secrets to be read, or set). */
  private readonly held = new Map<McpSession, Set<JsonRpcId>>();
  private readonly stopListening?: () => void;

  private readonly servers: ReadonlyMap<string, StdioServerConfig>;

  /** `pools`: each stdio server's processes, by server name; they hear when a person's secrets change. */
  constructor(
    private readonly deps: PersonalDependencies,
    pools: ReadonlyMap<string, { spec: StdioServerConfig; secretsChanged(sub: string): void }>,
    private readonly logger: Logger,
    private readonly hooks: BridgeHooks = {},
  ) {
    this.servers = new Map([...pools].map(([name, pool]) => [name, pool.spec]));
    this.stopListening = deps.secrets?.onChange((sub, serverName) => {
      pools.get(serverName)?.secretsChanged(sub);
      const key = personKey(serverName, sub);
      this.setNames.delete(key);
      for (const wake of this.waiters.get(key) ?? []) wake();
    });
  }

  /** Whether the request must be looked at first (false on the hot path of servers without secrets). */
  private applies(serverName: string, request: JsonRpcRequest): boolean {
    const server = this.servers.get(serverName);
    if (!server || UNGATED.has(request.method)) return false;
    return this.requiredOf(server).length > 0 || !!secretArgumentsOf(request, server.secretArguments);
  }

  private requiredOf(server: StdioServerConfig): string[] {
    return Object.entries(server.secrets ?? {})
      .filter(([, declared]) => declared.required)
      .map(([name]) => name);
  }

  /** The secrets this request needs that the person has not set. */
  private async missingFor(session: McpSession, request: JsonRpcRequest): Promise<string[]> {
    const server = this.servers.get(session.serverName)!;
    const templates = secretArgumentsOf(request, server.secretArguments);
    const needed = new Set([...this.requiredOf(server), ...(templates ? secretsOfArguments(templates) : [])]);
    if (needed.size === 0) return [];
    const key = personKey(session.serverName, session.sub);
    let names = this.setNames.get(key);
    if (!names) {
      names = this.listSet(session.sub, session.serverName);
      this.setNames.set(key, names);
      names.catch(() => this.setNames.delete(key));
    }
    const set = await names;
    return [...needed].filter((name) => !set.has(name));
  }

  private async listSet(sub: string, serverName: string): Promise<Set<string>> {
    if (!this.deps.secrets) return new Set();
    return new Set((await this.deps.secrets.list(sub, serverName)).map((entry) => entry.name));
  }

  /**
   * Holds a request that needs the person's secrets until they are known: the router gets it as
   * the process is to (arguments filled), or the session is answered here. A cancel while it waits
   * drops it. False when the request needs nothing of the kind (the caller routes it at once).
   */
  hold(session: McpSession, request: JsonRpcRequest, router: Pick<Router, 'request'>): boolean {
    if (!this.applies(session.serverName, request)) return false;
    const held = this.held.get(session) ?? new Set<JsonRpcId>();
    this.held.set(session, held.add(request.id));
    const settle = () => {
      held.delete(request.id);
      if (held.size === 0 && this.held.get(session) === held) this.held.delete(session);
      return !session.closed && session.isInFlight(request.id);
    };
    this.admit(session, request).then(
      (admission) => {
        if (!settle()) return;
        if ('request' in admission) return router.request(session, admission.request);
        session.answer(admission.response);
        if (request.method === 'tools/call') this.hooks.toolCallFinished?.(session, String(request.params?.name), 'error', 0);
      },
      (error: Error) => {
        if (settle())
          session.answer(errorResponse(request.id, ErrorCode.ServerUnavailable, `your secrets could not be read: ${error.message}`));
      },
    );
    return true;
  }

  /** A client's cancel of a request held here: true when it was one (no answer follows). */
  cancelHeld(session: McpSession, notification: JsonRpcNotification): boolean {
    const requestId = notification.params?.requestId as JsonRpcId | undefined;
    if (notification.method !== 'notifications/cancelled' || requestId === undefined || !this.held.get(session)?.has(requestId))
      return false;
    session.cancel(requestId);
    return true;
  }

  /** The request as the process is to get it, or the answer that explains what is missing. */
  private async admit(session: McpSession, request: JsonRpcRequest): Promise<Admission> {
    let missing = await this.missingFor(session, request);
    if (missing.length && this.takesUrlElicitation(session) && (await this.askToSet(session, request, missing)))
      missing = await this.missingFor(session, request);
    if (missing.length) return { response: this.explainMissing(session, request, missing) };
    const server = this.servers.get(session.serverName)!;
    const templates = secretArgumentsOf(request, server.secretArguments);
    if (!templates) return { request };
    const secrets: Record<string, string | undefined> = {};
    for (const name of secretsOfArguments(templates)) secrets[name] = await this.deps.secrets?.get(session.sub, session.serverName, name);
    const person = await this.deps.person(session.sub).catch(() => ({}));
    return { request: fillSecretArguments(request, templates, { ...person, sub: session.sub, secrets }) };
  }

  /** A tool error the model shows (tools/call), else a JSON-RPC error; both give the account page link. */
  private explainMissing(session: McpSession, request: JsonRpcRequest, missing: string[]): JsonRpcResponse {
    const server = this.servers.get(session.serverName)!;
    const labels = missing.map((name) => server.secrets?.[name]?.label ?? name);
    const url = this.deps.accountUrl(session.serverName);
    const text =
      `The "${session.serverName}" tools need your ${labels.join(', ')}, which you have not set yet. ` +
      `Set ${missing.length > 1 ? 'them' : 'it'} on your account page, ${url}, then try again.`;
    if (request.method === 'tools/call')
      return { jsonrpc: '2.0', id: request.id, result: { content: [{ type: 'text', text }], isError: true } };
    return errorResponse(request.id, ErrorCode.SecretMissing, text, { url, missing });
  }

  /** A 2025-11-25 session whose client declared URL-mode elicitation (the modern wire has no such request). */
  private takesUrlElicitation(session: McpSession): boolean {
    const elicitation = session.clientCapabilities.elicitation as { url?: unknown } | undefined;
    return !session.stateless && session.protocolVersion >= '2025-11-25' && !!elicitation?.url;
  }

  /**
   * Asks the client to open the account page; true once the person accepted and saved their
   * secrets within the server's callTimeout. Declined, cancelled or timed out: false.
   */
  private async askToSet(session: McpSession, request: JsonRpcRequest, missing: string[]): Promise<boolean> {
    const server = this.servers.get(session.serverName)!;
    const deadline = Date.now() + server.callTimeout * 1000;
    const elicitationId = randomUUID();
    const id = `gateway-elicitation-${elicitationId}`;
    const url = this.deps.accountUrl(session.serverName);
    const labels = missing.map((name) => server.secrets?.[name]?.label ?? name).join(', ');
    const pending = this.elicitations.get(session) ?? new Map<JsonRpcId, (response: JsonRpcResponse) => void>();
    this.elicitations.set(session, pending);
    const answered = new Promise<JsonRpcResponse | undefined>((resolve) => {
      pending.set(id, resolve);
      setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now())).unref();
    });
    const params = {
      mode: 'url',
      elicitationId,
      url,
      message: `"${session.serverName}" needs your ${labels}: set it on your account page.`,
    };
    const sent = session.sendRelated(request.id, { jsonrpc: '2.0', id, method: 'elicitation/create', params });
    const answer = sent ? await answered : undefined;
    pending.delete(id);
    if (pending.size === 0) this.elicitations.delete(session);
    const action = (answer?.result as { action?: unknown } | undefined)?.action;
    if (action !== 'accept') return false;
    const saved = await this.untilSet(session, request, deadline);
    if (saved) session.sendRelated(request.id, { jsonrpc: '2.0', method: 'notifications/elicitation/complete', params: { elicitationId } });
    this.logger.info({ server: session.serverName, sub: session.sub, saved }, 'asked the person to set their secrets (URL elicitation)');
    return saved;
  }

  /** Waits for the person's secrets to change until none is missing; false at the deadline or when the call ended. */
  private async untilSet(session: McpSession, request: JsonRpcRequest, deadline: number): Promise<boolean> {
    const key = personKey(session.serverName, session.sub);
    const waiting = this.waiters.get(key) ?? new Set<() => void>();
    this.waiters.set(key, waiting);
    try {
      while (Date.now() < deadline && session.isInFlight(request.id)) {
        if ((await this.missingFor(session, request)).length === 0) return true;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
          function wake() {
            clearTimeout(timer);
            waiting.delete(wake);
            resolve();
          }
          waiting.add(wake);
        });
      }
      return false;
    } finally {
      if (waiting.size === 0) this.waiters.delete(key);
    }
  }

  /** A client's answer to an elicitation the gateway sent; false when it answers something else. */
  takeResponse(session: McpSession, response: JsonRpcResponse): boolean {
    const resolve = response.id === null ? undefined : this.elicitations.get(session)?.get(response.id);
    resolve?.(response);
    return !!resolve;
  }

  close(): void {
    this.stopListening?.();
  }
}
