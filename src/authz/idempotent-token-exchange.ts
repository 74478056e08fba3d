// Repeated token exchanges answered once. Wraps oidc-provider's own grant handlers, read from its
// internal registry (oidc-provider 9 has no public way to wrap one), so a repeat is recognised only
// after the client has authenticated.
import { setTimeout as sleep } from 'node:timers/promises';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import type { KeyValueStore } from '../storage/store.js';
import { openResponse, replayLookupId, sealResponse, type TokenExchangeRequest } from './token-replay-seal.js';

/** Seconds during which a repeat of each grant type gets the first answer again. */
export interface IdempotencyWindows {
  refresh_token: number;
  authorization_code: number;
}

/** The grant parameters, besides the presented token, that a repeat must match to get the answer. */
const MATCHED_PARAMS = ['code_verifier', 'redirect_uri', 'resource', 'scope'] as const;
const PRESENTED_PARAM = { refresh_token: 'refresh_token', authorization_code: 'code' } as const;
/** How long a repeat waits for the first exchange to answer before going its own way. */
const PENDING_SECONDS = 10;
const POLL_MS = 25;

type GrantHandler = (ctx: KoaContextWithOIDC) => Promise<void>;
type Pending = { pending: true };
type Answered = { sealed: string; at: number };
type Entry = Pending | Answered;

const replayed = new WeakSet<object>();

/** True when this token response repeats an earlier one: nothing new was issued. */
export function wasReplayed(ctx: object): boolean {
  return replayed.has(ctx);
}

/**
 * Within its window, the same refresh token or code from the same client, with the same
 * parameters, gets the same response: never a second set of live tokens. Repeats that arrive while
 * the first is still running wait for its answer. A repeat that differs, or comes later, goes to
 * oidc-provider, which finds the token used (a refresh token then revokes its grant).
 */
export function makeTokenExchangesIdempotent(provider: Provider, store: KeyValueStore, windows: IdempotencyWindows): void {
  const handlers = instance(provider).grantTypeHandlers as Map<string, GrantHandler> | undefined;
  for (const grantType of Object.keys(PRESENTED_PARAM) as (keyof IdempotencyWindows)[]) {
    const original = handlers?.get(grantType);
    // An oidc-provider upgrade that moves its internals must fail at start, not fork refreshes quietly.
    if (!handlers || !original) throw new Error(`oidc-provider's ${grantType} handler was not found: check idempotent-token-exchange.ts`);
    const window = windows[grantType];
    if (window <= 0) continue;
    handlers.set(grantType, (ctx) => answerOnce(ctx, original, store, window));
  }
}

function exchangeRequest(ctx: KoaContextWithOIDC): TokenExchangeRequest | undefined {
  const params = ctx.oidc.params as Record<string, unknown>;
  const grantType = String(params.grant_type) as keyof typeof PRESENTED_PARAM;
  const presented = params[PRESENTED_PARAM[grantType]];
  const clientId = ctx.oidc.client?.clientId;
  if (typeof presented !== 'string' || !clientId) return undefined;
  return { grantType, clientId, presented, params: Object.fromEntries(MATCHED_PARAMS.map((name) => [name, params[name]])) };
}

async function answerOnce(ctx: KoaContextWithOIDC, original: GrantHandler, store: KeyValueStore, window: number): Promise<void> {
  const request = exchangeRequest(ctx);
  if (!request) return original(ctx);
  const key = `oidc:replay:${replayLookupId(request)}`;
  const deadline = Date.now() + PENDING_SECONDS * 1000;
  while (Date.now() < deadline) {
    if (await store.setIfAbsent(key, { pending: true } satisfies Pending, PENDING_SECONDS)) {
      return answerFirst(ctx, original, store, { key, request, window });
    }
    const entry = await store.get<Entry>(key);
    if (entry && 'sealed' in entry) return replay(ctx, original, request, entry);
    if (entry) await sleep(POLL_MS);
  }
  return original(ctx);
}

/** The first of its kind: answered by oidc-provider, the answer kept sealed for the window. */
async function answerFirst(
  ctx: KoaContextWithOIDC,
  original: GrantHandler,
  store: KeyValueStore,
  { key, request, window }: { key: string; request: TokenExchangeRequest; window: number },
): Promise<void> {
  try {
    await original(ctx);
  } catch (error) {
    // Refused: nothing to repeat, and the next attempt is judged afresh.
    await store.delete(key).catch(() => {});
    throw error;
  }
  await store.set(key, { sealed: sealResponse(request, ctx.body), at: Date.now() } satisfies Answered, window);
}

/** The earlier answer, its lifetimes counted down; a request that cannot open it is not a repeat. */
async function replay(ctx: KoaContextWithOIDC, original: GrantHandler, request: TokenExchangeRequest, entry: Answered): Promise<void> {
  const response = openResponse(request, entry.sealed) as { expires_in?: number } | undefined;
  if (!response) return original(ctx);
  if (typeof response.expires_in === 'number') {
    response.expires_in = Math.max(0, response.expires_in - Math.floor((Date.now() - entry.at) / 1000));
  }
  replayed.add(ctx);
  ctx.body = response;
}
