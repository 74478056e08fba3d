/**
 * The identity provider's callback at /login/<provider>/callback, one check per step: the state
 * names a pending sign-in, the browser is the one that started it, the provider did not answer
 * with an error, its answer verifies, and the access policy lets the account in.
 */
import type { Request, Response } from 'express';
import { sameSecret, sha256Text } from '../lib/same-secret.js';
import { audit } from '../observability/audit.js';
import { UpstreamRefusal, type UpstreamIdentity, type UpstreamProvider } from '../upstream/upstream-provider.js';
import {
  bindingCookie,
  countFailure,
  finishWith,
  methodOf,
  pendingKey,
  returnToClientForm,
  type PendingLogin,
  type UpstreamLoginContext,
} from './upstream-login-state.js';

/** A callback whose state named a pending sign-in for this provider. */
interface Callback {
  req: Request;
  res: Response;
  providerId: string;
  pending: PendingLogin;
  upstream: UpstreamProvider;
}

const TRY_AGAIN = 'Try again. If it keeps happening, tell the gateway operator (mention the request id below).';

export async function upstreamCallback(ctx: UpstreamLoginContext, req: Request, res: Response): Promise<void> {
  const providerId = String(req.params.provider);
  const state = typeof req.query.state === 'string' ? req.query.state : '';
  // Taken, not read: a replayed callback finds nothing.
  const pending = state ? await ctx.store.get<PendingLogin>(pendingKey(state)) : undefined;
  if (pending) await ctx.store.delete(pendingKey(state));
  if (state) res.clearCookie(bindingCookie(state), { path: '/login/' });
  const upstream = ctx.upstreams.get(providerId);
  if (!pending || !upstream || pending.provider !== providerId) return refuseUnknownState(ctx, req, res, providerId);
  const callback: Callback = { req, res, providerId, pending, upstream };
  const binding = parseCookie(req.headers.cookie, bindingCookie(state)) ?? '';
  if (!binding || !sameSecret(sha256Text(binding), pending.bindingHash)) return refuseForeignBrowser(ctx, callback);
  const current = new URL(req.originalUrl, ctx.config.publicUrl);
  const upstreamError = current.searchParams.get('error');
  if (upstreamError) return handleProviderError(ctx, callback, upstreamError, current);
  const identity = await verifyAnswer(ctx, callback, current);
  if (identity) await admitIdentity(ctx, callback, identity);
}

function refuseUnknownState(ctx: UpstreamLoginContext, req: Request, res: Response, providerId: string): void {
  const method = methodOf(ctx, providerId);
  countFailure(ctx, method, 'invalid_state');
  audit(
    ctx.logger,
    'login.upstream.invalid_state',
    { outcome: 'failure', method, provider: method, requestId: req.id },
    'callback with an unknown, used or expired state',
    'warn',
  );
  ctx.pages.render(
    res,
    400,
    'This sign-in link has expired',
    'The answer from the identity provider was already used, or it belongs to a sign-in that expired.',
    'Go back to the application you were connecting and start again.',
  );
}

function refuseForeignBrowser(ctx: UpstreamLoginContext, { req, res, providerId, pending }: Callback): void {
  countFailure(ctx, providerId, 'foreign_browser');
  audit(
    ctx.logger,
    'login.upstream.foreign_browser',
    { outcome: 'failure', method: providerId, provider: providerId, uid: pending.uid, clientId: pending.clientId, requestId: req.id },
    'callback arrived in a browser that did not start the sign-in',
    'warn',
  );
  ctx.pages.render(
    res,
    400,
    'Sign-in refused',
    'This sign-in was started in another browser.',
    'Start again from the application you are connecting, in this browser.',
  );
}

/** The provider answered with an error: a cancel goes back to the client as access_denied, anything else is a page. */
async function handleProviderError(ctx: UpstreamLoginContext, callback: Callback, upstreamError: string, current: URL): Promise<void> {
  const { req, res, providerId, pending, upstream } = callback;
  const description = current.searchParams.get('error_description') ?? upstreamError;
  countFailure(ctx, providerId, upstreamError === 'access_denied' ? 'cancelled' : 'provider_error');
  const { uid, clientId } = pending;
  audit(
    ctx.logger,
    'login.upstream.error',
    { outcome: 'failure', method: providerId, provider: providerId, uid, clientId, error: upstreamError, description, requestId: req.id },
    'identity provider returned an error',
  );
  if (upstreamError === 'access_denied') {
    await finishWith(ctx, res, uid, { error: 'access_denied', description: `sign-in at ${upstream.label} was cancelled` });
    return;
  }
  const title = `${upstream.label} could not sign you in`;
  ctx.pages.render(res, 502, title, `${upstream.label} answered: ${description}.`, TRY_AGAIN, returnToClientForm(ctx, uid));
}

/** The provider's answer, verified; undefined (and a page sent) when it does not verify or the provider refuses the account. */
async function verifyAnswer(ctx: UpstreamLoginContext, callback: Callback, current: URL): Promise<UpstreamIdentity | undefined> {
  const { req, res, providerId, pending, upstream } = callback;
  try {
    return await upstream.complete(current, pending);
  } catch (error) {
    const refused = error instanceof UpstreamRefusal;
    countFailure(ctx, providerId, refused ? 'not_allowed' : 'verification_failed');
    const { uid, clientId } = pending;
    audit(
      ctx.logger,
      refused ? 'login.refused' : 'login.upstream.failed',
      { outcome: 'failure', method: providerId, provider: providerId, uid, clientId, err: describeFailure(error), requestId: req.id },
      'upstream login failed',
      'warn',
    );
    ctx.pages.render(
      res,
      refused ? 403 : 502,
      refused ? 'Sign-in refused' : `${upstream.label} sign-in failed`,
      refused ? `${(error as Error).message}.` : `The answer from ${upstream.label} could not be verified.`,
      'Try again, or use another account. If it keeps happening, tell the gateway operator (mention the request id below).',
      returnToClientForm(ctx, uid),
    );
    return undefined;
  }
}

/** The access policy has the last word; an allowed account is recorded and handed back to the interaction. */
async function admitIdentity(ctx: UpstreamLoginContext, callback: Callback, identity: UpstreamIdentity): Promise<void> {
  const { req, res, providerId, pending, upstream } = callback;
  const { uid, clientId } = pending;
  const candidate = {
    email: identity.email,
    emailVerified: identity.emailVerified,
    provider: identity.provider,
    lastLogin: { ...identity, at: Date.now() },
  };
  const refusal = ctx.policy.refusal(candidate);
  if (refusal) {
    countFailure(ctx, providerId, 'not_allowed');
    const fields = { outcome: 'failure', method: providerId, provider: providerId, who: identity.email, reason: refusal, uid, clientId };
    audit(ctx.logger, 'login.refused', { ...fields, requestId: req.id }, 'account not allowed');
    ctx.pages.render(
      res,
      403,
      'This account is not allowed here',
      `You signed in at ${upstream.label} as ${identity.email}, but ${refusal}.`,
      'Sign in with another account, or ask the gateway operator to give this one access.',
      returnToClientForm(ctx, uid),
    );
    return;
  }
  const account = await ctx.accounts.recordLogin(identity.email, {
    emailVerified: identity.emailVerified,
    name: identity.name,
    facts: { provider: identity.provider, hd: identity.hd, groups: identity.groups, githubOrgs: identity.githubOrgs },
  });
  ctx.metrics?.loginSucceeded(providerId);
  const fields = { outcome: 'success', method: providerId, who: identity.email, sub: account.sub, uid, clientId, requestId: req.id };
  audit(ctx.logger, 'login.success', fields, 'login');
  await finishWith(ctx, res, uid, { accountId: account.sub, provider: providerId });
}

function parseCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return decodeURIComponent(part.slice(index + 1).trim());
  }
  return undefined;
}

/** openid-client wraps the precise reason (such as a nonce mismatch) in `cause`; operators need both. */
function describeFailure(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error; current instanceof Error && parts.length < 3; current = current.cause) parts.push(current.message);
  return parts.join(': ');
}
