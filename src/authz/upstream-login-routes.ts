import { Router, type Request, type Response } from 'express';
import * as client from 'openid-client';
import { sameSecret, sha256Text } from '../lib/same-secret.js';
import { audit } from '../observability/audit.js';
import { callbackUrl } from '../upstream/providers.js';
import { UpstreamRefusal, type UpstreamRequest } from '../upstream/upstream-provider.js';
import { escapeHtml, PAGE_SECURITY_HEADERS, SafeHtml } from '../web/views.js';
import { classifyPageError, TOO_MANY_SIGN_INS } from './page-errors.js';
import type { SignInDependencies } from './sign-in-dependencies.js';

const PENDING_TTL_S = 10 * 60;
const RESULT_TTL_S = 5 * 60;
/** One cookie per sign-in, so two sign-ins started in two tabs do not overwrite each other. */
const bindingCookie = (state: string) => `mcpgw_upstream_${sha256Text(state).slice(0, 12)}`;

interface PendingLogin extends UpstreamRequest {
  uid: string;
  provider: string;
  /** The connector being authorized, for the flow trace in the logs. */
  clientId: string;
  /** Hash of the random value in the browser's cookie: the callback must come back to the same browser. */
  bindingHash: string;
}

type LoginResult = { accountId: string; provider: string } | { error: string; description: string };

export type UpstreamLoginDependencies = SignInDependencies;

/**
 * Sign-in through Google, GitHub or an OpenID provider: the start (under /interaction, where the
 * interaction cookie lives), the provider's callback at /login/<provider>/callback, and the step
 * that hands the result back to the authorization server.
 */
export function upstreamLoginRouter(deps: UpstreamLoginDependencies): Router {
  const { provider, config, store, accounts, policy, csrf, logger, upstreams, metrics, rateLimits, pages } = deps;
  /** A provider id for logs and metric labels: only configured ids, never whatever a URL says. */
  const methodOf = (id: string) => (upstreams.has(id) ? id : 'unknown');
  const failed = (method: string, reason: string) => metrics?.loginFailed(method, reason);
  const router = Router();
  const secureCookies = config.publicUrl.startsWith('https:');

  router.use(['/interaction', '/login'], (_req, res, next) => {
    res.set(PAGE_SECURITY_HEADERS);
    next();
  });

  function returnToClientForm(uid: string, clientName = 'the application'): SafeHtml {
    return new SafeHtml(
      `<form method="post" action="/interaction/${encodeURIComponent(uid)}/abort"><input type="hidden" name="csrf" value="${escapeHtml(csrf.issue(uid))}"><button type="submit" class="primary">Return to ${escapeHtml(clientName)}</button></form>`,
    );
  }

  router.get('/interaction/:uid/upstream/:provider', async (req, res) => {
    const ip = req.ip ?? 'unknown';
    const method = methodOf(String(req.params.provider));
    const refusal = await rateLimits?.refusal(
      'login',
      ip,
      TOO_MANY_SIGN_INS,
      { outcome: 'failure', method, ip, requestId: req.id },
      'login.rate_limited',
    );
    if (refusal) {
      failed(method, 'rate_limited');
      pages.sendError(res, refusal);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      const upstream = upstreams.get(String(req.params.provider));
      if (!upstream || details.prompt.name !== 'login') {
        pages.render(
          res,
          404,
          'Unknown sign-in method',
          'This sign-in method is not configured on this gateway.',
          'Go back and choose another way to sign in.',
        );
        return;
      }
      const binding = client.randomState();
      const pending: PendingLogin = {
        uid: details.uid,
        provider: upstream.id,
        clientId: String(details.params.client_id),
        redirectUri: callbackUrl(config.publicUrl, upstream.id),
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        bindingHash: sha256Text(binding),
      };
      const target = await upstream.authorizationUrl(pending);
      await store.set(`upstream:pending:${pending.state}`, pending, PENDING_TTL_S);
      res.cookie(bindingCookie(pending.state), binding, {
        httpOnly: true,
        sameSite: 'lax',
        secure: secureCookies,
        path: '/login/',
        maxAge: PENDING_TTL_S * 1000,
      });
      logger.info(
        { event: 'login.upstream.start', provider: upstream.id, uid: details.uid, clientId: pending.clientId },
        'sending the person to their identity provider',
      );
      res.redirect(303, target.href);
    } catch (error) {
      logger.error({ err: error, provider: req.params.provider, requestId: req.id }, 'could not start upstream login');
      const failure = await classifyPageError(error, store);
      // An expired sign-in or an outage has one page wherever it happens; anything else here is the provider.
      if (failure.error === 'sign_in_expired' || failure.error === 'temporarily_unavailable') {
        pages.sendError(res, failure);
        return;
      }
      pages.render(
        res,
        502,
        'Sign-in is unavailable',
        'The identity provider could not be reached.',
        'Try again in a minute. If it keeps happening, tell the gateway operator (mention the request id below).',
      );
    }
  });

  router.get('/login/:provider/callback', async (req: Request, res: Response) => {
    const providerId = String(req.params.provider);
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    // Taken, not read: a replayed callback finds nothing.
    const pending = state ? await store.get<PendingLogin>(`upstream:pending:${state}`) : undefined;
    if (pending) await store.delete(`upstream:pending:${state}`);
    if (state) res.clearCookie(bindingCookie(state), { path: '/login/' });
    const upstream = upstreams.get(providerId);
    if (!pending || !upstream || pending.provider !== providerId) {
      failed(methodOf(providerId), 'invalid_state');
      audit(
        logger,
        'login.upstream.invalid_state',
        { outcome: 'failure', method: methodOf(providerId), provider: methodOf(providerId), requestId: req.id },
        'callback with an unknown, used or expired state',
        'warn',
      );
      pages.render(
        res,
        400,
        'This sign-in link has expired',
        'The answer from the identity provider was already used, or it belongs to a sign-in that expired.',
        'Go back to the application you were connecting and start again.',
      );
      return;
    }
    const binding = parseCookie(req.headers.cookie, bindingCookie(state)) ?? '';
    if (!binding || !sameSecret(sha256Text(binding), pending.bindingHash)) {
      failed(providerId, 'foreign_browser');
      audit(
        logger,
        'login.upstream.foreign_browser',
        { outcome: 'failure', method: providerId, provider: providerId, uid: pending.uid, clientId: pending.clientId, requestId: req.id },
        'callback arrived in a browser that did not start the sign-in',
        'warn',
      );
      pages.render(
        res,
        400,
        'Sign-in refused',
        'This sign-in was started in another browser.',
        'Start again from the application you are connecting, in this browser.',
      );
      return;
    }
    const current = new URL(req.originalUrl, config.publicUrl);
    const upstreamError = current.searchParams.get('error');
    if (upstreamError) {
      const description = current.searchParams.get('error_description') ?? upstreamError;
      failed(providerId, upstreamError === 'access_denied' ? 'cancelled' : 'provider_error');
      audit(
        logger,
        'login.upstream.error',
        {
          outcome: 'failure',
          method: providerId,
          provider: providerId,
          uid: pending.uid,
          clientId: pending.clientId,
          error: upstreamError,
          description,
          requestId: req.id,
        },
        'identity provider returned an error',
      );
      if (upstreamError === 'access_denied') {
        await finishWith(res, pending.uid, { error: 'access_denied', description: `sign-in at ${upstream.label} was cancelled` });
        return;
      }
      pages.render(
        res,
        502,
        `${upstream.label} could not sign you in`,
        `${upstream.label} answered: ${description}.`,
        'Try again. If it keeps happening, tell the gateway operator (mention the request id below).',
        returnToClientForm(pending.uid),
      );
      return;
    }
    let identity;
    try {
      identity = await upstream.complete(current, pending);
    } catch (error) {
      const refused = error instanceof UpstreamRefusal;
      failed(providerId, refused ? 'not_allowed' : 'verification_failed');
      audit(
        logger,
        refused ? 'login.refused' : 'login.upstream.failed',
        {
          outcome: 'failure',
          method: providerId,
          provider: providerId,
          uid: pending.uid,
          clientId: pending.clientId,
          err: describeFailure(error),
          requestId: req.id,
        },
        'upstream login failed',
        'warn',
      );
      pages.render(
        res,
        refused ? 403 : 502,
        refused ? 'Sign-in refused' : `${upstream.label} sign-in failed`,
        refused ? `${(error as Error).message}.` : `The answer from ${upstream.label} could not be verified.`,
        'Try again, or use another account. If it keeps happening, tell the gateway operator (mention the request id below).',
        returnToClientForm(pending.uid),
      );
      return;
    }
    const candidate = {
      email: identity.email,
      emailVerified: identity.emailVerified,
      provider: identity.provider,
      lastLogin: { ...identity, at: Date.now() },
    };
    const refusal = policy.refusal(candidate);
    if (refusal) {
      failed(providerId, 'not_allowed');
      audit(
        logger,
        'login.refused',
        {
          outcome: 'failure',
          method: providerId,
          provider: providerId,
          who: identity.email,
          reason: refusal,
          uid: pending.uid,
          clientId: pending.clientId,
          requestId: req.id,
        },
        'account not allowed',
      );
      pages.render(
        res,
        403,
        'This account is not allowed here',
        `You signed in at ${upstream.label} as ${identity.email}, but ${refusal}.`,
        'Sign in with another account, or ask the gateway operator to give this one access.',
        returnToClientForm(pending.uid),
      );
      return;
    }
    const account = await accounts.recordLogin(identity.email, {
      emailVerified: identity.emailVerified,
      name: identity.name,
      facts: { provider: identity.provider, hd: identity.hd, groups: identity.groups, githubOrgs: identity.githubOrgs },
    });
    metrics?.loginSucceeded(providerId);
    audit(
      logger,
      'login.success',
      {
        outcome: 'success',
        method: providerId,
        who: identity.email,
        sub: account.sub,
        uid: pending.uid,
        clientId: pending.clientId,
        requestId: req.id,
      },
      'login',
    );
    await finishWith(res, pending.uid, { accountId: account.sub, provider: providerId });
  });

  async function finishWith(res: Response, uid: string, result: LoginResult): Promise<void> {
    await store.set(`upstream:result:${uid}`, result, RESULT_TTL_S);
    res.redirect(303, `/interaction/${encodeURIComponent(uid)}/upstream-complete`);
  }

  router.get('/interaction/:uid/upstream-complete', async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const key = `upstream:result:${details.uid}`;
      const result = await store.get<LoginResult>(key);
      await store.delete(key);
      if (!result) {
        pages.render(
          res,
          400,
          'This sign-in has expired',
          'There is no finished sign-in for this page.',
          'Go back to the application you were connecting and start again.',
        );
        return;
      }
      if ('error' in result) {
        await provider.interactionFinished(
          req,
          res,
          { error: result.error, error_description: result.description },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: result.accountId, amr: ['fed'] } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      next(error);
    }
  });

  return router;
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
