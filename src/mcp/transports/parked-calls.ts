import { createHmac, randomBytes } from 'node:crypto';
import { sameSecret } from '../../lib/same-secret.js';
import { ErrorCode, LimitReached } from '../jsonrpc.js';
import { mcpError } from '../json-rpc-errors.js';
import type { ModernCall } from './modern-call.js';

/** What a requestState is bound to: only the same person, client, server and request may resume it. */
export interface CallBinding {
  sub: string;
  clientId: string;
  serverName: string;
  method: string;
  /** The tool, prompt or resource the request names. */
  name: string;
}

interface Parked {
  call: ModernCall;
  binding: CallBinding;
  expiresAt: number;
}

const invalidState = (why: string) =>
  mcpError(400, `Invalid params: requestState ${why}; send the original request again without requestState`, ErrorCode.InvalidParams);

/**
 * Calls of modern clients waiting for the client's input (MRTR), each named by a requestState
 * that is tamper-proof (HMAC), bound to its person, client, server and request, and short-lived.
 * The call itself stays here, with its process still waiting: a retry resumes it once. Bounded
 * per person.
 */
export class ParkedCalls {
  private readonly parked = new Map<string, Parked>();
  /** The id each parked call is under, so ending a call (every modern call ends here) needs no scan. */
  private readonly idOf = new Map<ModernCall, string>();
  private readonly perPerson = new Map<string, number>();

  /** `idPrefix` names this replica, as session ids do. */
  constructor(
    private readonly key: Buffer,
    private readonly idPrefix: string,
    private readonly maxPerPerson: number,
  ) {}

  private sign(id: string, expiresAt: number, binding: CallBinding): string {
    const { sub, clientId, serverName, method, name } = binding;
    return createHmac('sha256', this.key)
      .update(JSON.stringify([id, expiresAt, sub, clientId, serverName, method, name]))
      .digest('base64url');
  }

  /** Parks (or parks again) a call; returns its requestState. Throws LimitReached past the person's cap. */
  park(call: ModernCall, binding: CallBinding, ttlMs: number): string {
    this.forget(call);
    const mine = this.perPerson.get(binding.sub) ?? 0;
    if (mine >= this.maxPerPerson)
      throw new LimitReached(`you have ${mine} calls waiting for your input (at most ${this.maxPerPerson}); answer or abandon some first`);
    const id = `${this.idPrefix}${randomBytes(18).toString('base64url')}`;
    const expiresAt = Date.now() + ttlMs;
    this.parked.set(id, { call, binding, expiresAt });
    this.idOf.set(call, id);
    this.perPerson.set(binding.sub, mine + 1);
    return `${id}.${expiresAt}.${this.sign(id, expiresAt, binding)}`;
  }

  /** The parked call a retry names, taken out; a GatewayError (-32602) when the state is not good for this request. */
  take(requestState: string, binding: CallBinding): ModernCall {
    // <id>.<expiry>.<signature>, the id itself starting with the replica's prefix (which has a dot).
    const parts = requestState.split('.');
    const signature = parts.pop();
    const expiresAt = Number(parts.pop());
    const id = parts.join('.');
    if (!id || !signature || !Number.isSafeInteger(expiresAt)) throw invalidState('is malformed');
    if (!sameSecret(signature, this.sign(id, expiresAt, binding)))
      throw invalidState('was not issued for this person, client, server and request');
    if (expiresAt <= Date.now()) throw invalidState('has expired');
    const parked = this.parked.get(id);
    if (!parked) throw invalidState('was already used, or its call has ended');
    this.remove(id, parked);
    return parked.call;
  }

  /** The call ended or is parked again: its old state is no longer good. */
  forget(call: ModernCall): void {
    const id = this.idOf.get(call);
    if (id !== undefined) this.remove(id, this.parked.get(id)!);
  }

  private remove(id: string, parked: Parked): void {
    this.parked.delete(id);
    this.idOf.delete(parked.call);
    const left = (this.perPerson.get(parked.binding.sub) ?? 1) - 1;
    if (left > 0) this.perPerson.set(parked.binding.sub, left);
    else this.perPerson.delete(parked.binding.sub);
  }
}
