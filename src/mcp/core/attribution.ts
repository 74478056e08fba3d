import type { JsonRpcId } from '../jsonrpc.js';
import type { ClientCall } from './call-table.js';

/** Requests a process writes together (one tool asking several things at once) arrive this close. */
const BURST_MS = 5;

export interface Attributed<S> {
  session: S;
  relatedId?: JsonRpcId;
}

/**
 * Whom a message of the process belongs to when it carries no request id (sampling, elicitation,
 * roots, logging raised during a call). Only a certain answer counts: the calls in flight belong
 * to one session; calls waiting for their client's answer to an earlier request are not running
 * and are set aside (a call parked by the modern wire, or abandoned, must not make every other
 * call unattributable); and requests written in one burst belong together. Otherwise nobody: the
 * message is refused rather than risk sending it to the wrong person.
 */
export class Attribution<S> {
  private last?: Attributed<S> & { at: number; inFlight: number };

  owner(calls: Iterable<ClientCall<S>>, waiting: (session: S) => boolean, now = performance.now()): Attributed<S> | undefined {
    const sent = [...calls].filter((call) => call.sent);
    const last = this.last;
    // The same calls in flight as at the last one: no other call could have started asking.
    if (last && now - last.at <= BURST_MS && sent.length === last.inFlight && sent.some((call) => call.session === last.session))
      return { session: last.session, relatedId: last.relatedId };
    const running = sent.filter((call) => !waiting(call.session));
    const owner = soleSession(running.length > 0 ? running : sent);
    this.last = owner && { session: owner.session, relatedId: owner.clientId, at: now, inFlight: sent.length };
    return owner && { session: owner.session, relatedId: owner.clientId };
  }
}

/** The latest of `calls` when they all belong to one session. */
function soleSession<S>(calls: Array<ClientCall<S>>): ClientCall<S> | undefined {
  let owner: ClientCall<S> | undefined;
  for (const call of calls) {
    if (owner && owner.session !== call.session) return undefined;
    owner = call;
  }
  return owner;
}
