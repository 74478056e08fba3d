import { Router, type Request, type Response } from 'express';
import * as client from 'openid-client';
import { sha256Text } from '../lib/same-secret.js';
import { callbackUrl } from '../upstream/providers.js';
import type { UpstreamProvider } from '../upstream/upstream-provider.js';
import { PAGE_SECURITY_HEADERS } from '../web/views.js';
import { classifyPageError, TOO_MANY_SIGN_INS } from './page-errors.js';
import { upstreamCallback } from './upstream-callback.js';
import {
  bindingCookie,
  countFailure,
  methodOf,
  PENDING_TTL_S,
  pendingKey,
  resultKey,
  type LoginResult,
  type PendingLogin,
  type UpstreamLoginContext,
  type UpstreamLoginDependencies,
} from './upstream-login-state.js';

export type { UpstreamLoginDependencies } from './upstream-login-state.js';

type Details = Awaited<ReturnType<UpstreamLoginContext['provider']['interactionDetails']>>;

/**
 * Sign-in through Google, GitHub or an OpenID provider: the start (under /interaction, where the
 * interaction cookie lives), the provider's callback at /login/<provider>/callback, and the step
 * that hands the result back to the authorization server. The handlers are async: Express 5
 * passes a rejected promise to the error handler.
 */
export function upstreamLoginRouter(deps: UpstreamLoginDependencies): Router {
  const ctx: UpstreamLoginContext = { ...deps, secureCookies: deps.config.publicUrl.startsWith('https:') };
  const router = Router();
  router.use(['/interaction', '/login'], (_req, res, next) => {
    res.set(PAGE_SECURITY_HEADERS);
    next();
  });
  router.get('/interaction/:uid/upstream/:provider', (req, res) => startUpstreamLogin(ctx, req, res));
  router.get('/login/:provider/callback', (req, res) => upstreamCallback(ctx, req, res));
  router.get('/interaction/:uid/upstream-complete', (req, res) => completeUpstreamLogin(ctx, req, res));
  return router;
}

/** rateLimits.login counts sign-in starts too; true when this one was refused (and answered). */
async function refusedByRateLimit(ctx: UpstreamLoginContext, req: Request, res: Response): Promise<boolean> {
  const ip = req.ip ?? 'unknown';
  const method = methodOf(ctx, String(req.params.provider));
  const context = { outcome: 'failure', method, ip, requestId: req.id };
  const refusal = await ctx.rateLimits?.refusal('login', ip, TOO_MANY_SIGN_INS, context, 'login.rate_limited');
  if (!refusal) return false;
  countFailure(ctx, method, 'rate_limited');
  ctx.pages.sendError(res, refusal);
  return true;
}

async function startUpstreamLogin(ctx: UpstreamLoginContext, req: Request, res: Response): Promise<void> {
  if (await refusedByRateLimit(ctx, req, res)) return;
  try {
    const details = await ctx.provider.interactionDetails(req, res);
    const upstream = ctx.upstreams.get(String(req.params.provider));
    if (!upstream || details.prompt.name !== 'login') {
      const title = 'Unknown sign-in method';
      ctx.pages.render(
        res,
        404,
        title,
        'This sign-in method is not configured on this gateway.',
        'Go back and choose another way to sign in.',
      );
      return;
    }
    await redirectToProvider(ctx, res, details, upstream);
  } catch (error) {
    await renderStartFailure(ctx, req, res, error);
  }
}

/** Remembers the sign-in under its state, binds it to this browser with a cookie, and sends the person to the provider. */
async function redirectToProvider(ctx: UpstreamLoginContext, res: Response, details: Details, upstream: UpstreamProvider): Promise<void> {
  const binding = client.randomState();
  const pending: PendingLogin = {
    uid: details.uid,
    provider: upstream.id,
    clientId: String(details.params.client_id),
    redirectUri: callbackUrl(ctx.config.publicUrl, upstream.id),
    state: client.randomState(),
    nonce: client.randomNonce(),
    codeVerifier: client.randomPKCECodeVerifier(),
    bindingHash: sha256Text(binding),
  };
  const target = await upstream.authorizationUrl(pending);
  await ctx.store.set(pendingKey(pending.state), pending, PENDING_TTL_S);
  res.cookie(bindingCookie(pending.state), binding, {
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secureCookies,
    path: '/login/',
    maxAge: PENDING_TTL_S * 1000,
  });
  ctx.logger.info(
    { event: 'login.upstream.start', provider: upstream.id, uid: details.uid, clientId: pending.clientId },
    'sending the person to their identity provider',
  );
  res.redirect(303, target.href);
}

async function renderStartFailure(ctx: UpstreamLoginContext, req: Request, res: Response, error: unknown): Promise<void> {
  ctx.logger.error({ err: error, provider: req.params.provider, requestId: req.id }, 'could not start upstream login');
  const failure = await classifyPageError(error, ctx.store);
  // An expired sign-in or an outage has one page wherever it happens; anything else here is the provider.
  if (failure.error === 'sign_in_expired' || failure.error === 'temporarily_unavailable') {
    ctx.pages.sendError(res, failure);
    return;
  }
  ctx.pages.render(
    res,
    502,
    'Sign-in is unavailable',
    'The identity provider could not be reached.',
    'Try again in a minute. If it keeps happening, tell the gateway operator (mention the request id below).',
  );
}

/** Back under /interaction after the callback: hands the result to oidc-provider. */
async function completeUpstreamLogin(ctx: UpstreamLoginContext, req: Request, res: Response): Promise<void> {
  const details = await ctx.provider.interactionDetails(req, res);
  const key = resultKey(details.uid);
  const result = await ctx.store.get<LoginResult>(key);
  await ctx.store.delete(key);
  if (!result) {
    ctx.pages.render(
      res,
      400,
      'This sign-in has expired',
      'There is no finished sign-in for this page.',
      'Go back to the application you were connecting and start again.',
    );
    return;
  }
  const outcome =
    'error' in result
      ? { error: result.error, error_description: result.description }
      : { login: { accountId: result.accountId, amr: ['fed'] } };
  await ctx.provider.interactionFinished(req, res, outcome, { mergeWithLastSubmission: false });
}
