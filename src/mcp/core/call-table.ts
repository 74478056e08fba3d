import { progressTokenOf, type JsonRpcId, type JsonRpcRequest, type ProgressToken } from '../jsonrpc.js';

/** A client's call on its way through one process, from its arrival until it ends however it ends. */
export interface ClientCall<S> {
  /** The id the process sees: unique on the process, whoever sent the call. */
  readonly processId: number;
  readonly session: S;
  readonly clientId: JsonRpcId;
  readonly method: string;
  /** The progress token the client chose, and the one the process sees in its place. */
  readonly clientToken?: ProgressToken;
  readonly processToken?: string;
  /** Written to the process (false while it waits for the process to start). */
  sent: boolean;
  timer?: NodeJS.Timeout;
  /** tools/call, when measured: the tool's name, and performance.now() at arrival. */
  tool?: string;
  started: number;
}

/** A request the process sent to one session (sampling, elicitation, roots), by the id that session sees. */
export interface ServerRequest<S> {
  readonly session: S;
  readonly processId: JsonRpcId;
  readonly sessionFacingId: string;
}

/**
 * Everything in flight between the sessions on one process and that process: client calls (with
 * their ids and progress tokens rewritten) and requests the process sent to a session. One record
 * per call, found through each index, and forgotten in one place (`finish`), so no index can
 * outlive it. Ids are Map keys as they are: 1 and "1" stay two calls.
 */
export class CallTable<S extends { readonly sub: string }> {
  private nextId = 1;
  private readonly byProcessId = new Map<number, ClientCall<S>>();
  private readonly bySession = new Map<S, Map<JsonRpcId, ClientCall<S>>>();
  private readonly byProcessToken = new Map<string, ClientCall<S>>();
  /** Calls per person (session.sub), for their fair share of the process. */
  private readonly perPerson = new Map<string, number>();
  private readonly serverRequests = new Map<string, ServerRequest<S>>();

  /** `counted` hears how many calls are in flight whenever it changes (a restart may wait for none). */
  constructor(private readonly counted?: (inFlight: number) => void) {}

  /** A fresh id for anything the gateway sends the process (the initialize handshake included). */
  allocateId(): number {
    return this.nextId++;
  }

  /** Records a client's request on arrival, before it is written to the process. */
  add(session: S, request: JsonRpcRequest): ClientCall<S> {
    const processId = this.allocateId();
    const clientToken = progressTokenOf(request);
    const call: ClientCall<S> = {
      processId,
      session,
      clientId: request.id,
      method: request.method,
      sent: false,
      started: 0,
      clientToken,
      processToken: clientToken === undefined ? undefined : `gw-${processId}`,
    };
    this.byProcessId.set(processId, call);
    let mine = this.bySession.get(session);
    if (!mine) this.bySession.set(session, (mine = new Map()));
    mine.set(request.id, call);
    if (call.processToken) this.byProcessToken.set(call.processToken, call);
    this.perPerson.set(session.sub, (this.perPerson.get(session.sub) ?? 0) + 1);
    this.counted?.(this.byProcessId.size);
    return call;
  }

  /** Forgets a call everywhere; false when it was already gone (answered, cancelled, timed out). */
  finish(call: ClientCall<S>): boolean {
    if (this.byProcessId.get(call.processId) !== call) return false;
    this.byProcessId.delete(call.processId);
    clearTimeout(call.timer);
    const mine = this.bySession.get(call.session);
    mine?.delete(call.clientId);
    if (mine?.size === 0) this.bySession.delete(call.session);
    if (call.processToken) this.byProcessToken.delete(call.processToken);
    const left = this.perPerson.get(call.session.sub)! - 1;
    if (left > 0) this.perPerson.set(call.session.sub, left);
    else this.perPerson.delete(call.session.sub);
    this.counted?.(this.byProcessId.size);
    return true;
  }

  has(call: ClientCall<S>): boolean {
    return this.byProcessId.get(call.processId) === call;
  }

  byProcess(processId: JsonRpcId): ClientCall<S> | undefined {
    return typeof processId === 'number' ? this.byProcessId.get(processId) : undefined;
  }

  byClient(session: S, clientId: JsonRpcId): ClientCall<S> | undefined {
    return this.bySession.get(session)?.get(clientId);
  }

  byProgressToken(token: unknown): ClientCall<S> | undefined {
    return typeof token === 'string' ? this.byProcessToken.get(token) : undefined;
  }

  callsOf(session: S): ClientCall<S>[] {
    return [...(this.bySession.get(session)?.values() ?? [])];
  }

  /** Every call, oldest first. */
  calls(): IterableIterator<ClientCall<S>> {
    return this.byProcessId.values();
  }

  get size(): number {
    return this.byProcessId.size;
  }

  /** How many people have calls in flight. */
  get people(): number {
    return this.perPerson.size;
  }

  callsOfPerson(sub: string): number {
    return this.perPerson.get(sub) ?? 0;
  }

  /** Records a request of the process for `session`; returns the id that session sees. */
  addServerRequest(session: S, processId: JsonRpcId): string {
    const sessionFacingId = `gw-${this.allocateId()}`;
    this.serverRequests.set(sessionFacingId, { session, processId, sessionFacingId });
    return sessionFacingId;
  }

  /** Whether the process waits for this session's answer to one of its requests. */
  isWaitingForClient(session: S): boolean {
    for (const request of this.serverRequests.values()) if (request.session === session) return true;
    return false;
  }

  /** The session's answer to a request of the process: the request, when it was sent to that session. */
  takeServerRequest(session: S, sessionFacingId: JsonRpcId): ServerRequest<S> | undefined {
    const request = typeof sessionFacingId === 'string' ? this.serverRequests.get(sessionFacingId) : undefined;
    if (!request || request.session !== session) return undefined;
    this.serverRequests.delete(sessionFacingId as string);
    return request;
  }

  /** Forgets the requests of the process matching `which` and returns them. */
  takeServerRequestsWhere(which: (request: ServerRequest<S>) => boolean): ServerRequest<S>[] {
    if (this.serverRequests.size === 0) return [];
    const taken = [...this.serverRequests.values()].filter(which);
    for (const request of taken) this.serverRequests.delete(request.sessionFacingId);
    return taken;
  }
}
