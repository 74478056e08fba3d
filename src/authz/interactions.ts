import express, { type Request, type Response, type NextFunction, Router } from 'express';
import type Provider from 'oidc-provider';
import { audit, loggableEmail } from '../observability/audit.js';
import { GatewayError } from '../web/errors.js';
import { escapeHtml, notice, PAGE_SECURITY_HEADERS, renderFragment, renderPage, SafeHtml, type ViewValues } from '../web/views.js';
import { rememberGrant } from './consent-memory.js';
import type { LoginThrottle } from './login-throttle.js';
import { TOO_MANY_SIGN_INS } from './page-errors.js';
import { verifyPassword } from './password-hash.js';
import { isLocalRedirect } from './redirect-uri-policy.js';
import type { ResourceCatalog } from './resources.js';
import type { SignInDependencies } from './sign-in-dependencies.js';

export interface InteractionDependencies extends SignInDependencies {
  throttle: LoginThrottle;
  resources: ResourceCatalog;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

const asString = (value: unknown): string => (typeof value === 'string' ? value : '');

/** A form posted for a step the sign-in is no longer at (a second submit, a page left open in another tab). */
const outOfStep = () => new GatewayError(400, 'invalid_request', 'this form belongs to a step of the sign-in that is already over');

/** Login and consent pages that oidc-provider sends the person to, and their form handlers. */
export function interactionRouter(deps: InteractionDependencies): Router {
  const { provider, config, accounts, policy, throttle, resources, csrf, logger, metrics, rateLimits, pages } = deps;
  const router = Router();
  const host = new URL(config.publicUrl).host;
  const publicOrigin = new URL(config.publicUrl).origin;
  const passwordUsers = new Map((config.login.password?.users ?? []).map((user) => [user.email, user]));

  router.use('/interaction', (_req, res, next) => {
    res.set(PAGE_SECURITY_HEADERS);
    next();
  });
  router.use('/interaction', express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));

  /** Forms post only from our own pages; a foreign Origin is a cross-site attempt. */
  function checkFormOrigin(req: Request, res: Response, next: NextFunction): void {
    const origin = req.get('origin');
    if (req.method === 'POST' && origin && origin !== 'null' && origin !== publicOrigin) {
      pages.render(
        res,
        403,
        'Request refused',
        'This form was sent from another website.',
        'Go back to the application you were connecting and start again.',
      );
      return;
    }
    if (req.method === 'POST' && !csrf.verify(String(req.params.uid ?? ''), req.body?.csrf)) {
      pages.render(
        res,
        403,
        'Request refused',
        'This form has expired or was not sent from this page.',
        'Go back to the application you were connecting and start again.',
      );
      return;
    }
    next();
  }

  async function describeRequest(details: Details) {
    const clientId = asString(details.params.client_id);
    const client = await provider.Client.find(clientId);
    const redirectUri = asString(details.params.redirect_uri) || client?.redirectUris?.[0] || '';
    const resource = asString(details.params.resource) || resources.soleResource || '';
    return {
      clientId,
      clientName: client?.clientName ?? clientId,
      redirectUri,
      redirectHost: redirectUri ? new URL(redirectUri).host : '(unknown)',
      resource: resources.canonical(resource) ?? resource,
      serverName: resources.serverFor(resource) ?? resource,
    };
  }

  function providerLinks(uid: string): SafeHtml | undefined {
    if (deps.upstreams.size === 0) return undefined;
    const items = [...deps.upstreams.values()].map(
      (p) =>
        `<li><a href="/interaction/${encodeURIComponent(uid)}/upstream/${encodeURIComponent(p.id)}">Continue with ${escapeHtml(p.label)}</a></li>`,
    );
    const divider = passwordUsers.size ? '<p class="divider">or with a password</p>' : '';
    return new SafeHtml(`<ul class="providers">${items.join('')}</ul>${divider}`);
  }

  function renderLogin(
    res: Response,
    details: Details,
    about: Awaited<ReturnType<typeof describeRequest>>,
    extra: ViewValues = {},
    status = 200,
  ): void {
    const values = {
      uid: details.uid,
      csrf: csrf.issue(details.uid),
      clientName: about.clientName,
      serverName: about.serverName,
      ...extra,
    };
    res
      .status(status)
      .type('html')
      .send(
        renderPage('login', 'Sign in', host, {
          ...values,
          providerBlock: providerLinks(details.uid),
          // Focus the email field only when it is the first thing on the page, so keyboard order stays top to bottom.
          passwordBlock: passwordUsers.size
            ? renderFragment('login-password', { ...values, autofocus: deps.upstreams.size ? undefined : new SafeHtml(' autofocus') })
            : undefined,
        }),
      );
  }

  router.get('/interaction/:uid', async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const about = await describeRequest(details);
      if (details.prompt.name === 'login') {
        // With a single identity provider and no passwords there is nothing to choose.
        if (passwordUsers.size === 0 && deps.upstreams.size === 1) {
          res.redirect(
            303,
            `/interaction/${encodeURIComponent(details.uid)}/upstream/${encodeURIComponent([...deps.upstreams.keys()][0]!)}`,
          );
          return;
        }
        renderLogin(res, details, about);
        return;
      }
      const account = await accounts.findBySub(asString(details.session?.accountId));
      res.type('html').send(
        renderPage('consent', 'Allow access?', host, {
          uid: details.uid,
          csrf: csrf.issue(details.uid),
          email: account?.email ?? '',
          clientName: about.clientName,
          redirectHost: about.redirectHost,
          serverName: about.serverName,
          resource: about.resource,
          warningBlock: isLocalRedirect(about.redirectUri)
            ? notice(
                'warning',
                `This application runs on your own computer (${about.redirectHost}). Only allow it if you started it yourself just now.`,
              )
            : undefined,
        }),
      );
    } catch (error) {
      next(error);
    }
  });

  /**
   * rateLimits.login, per IP, on every form post: the password throttle below counts only failed
   * passwords (per account and per IP), so a refused post here is not counted there as well.
   */
  async function limitLoginAttempts(req: Request, res: Response, next: NextFunction): Promise<void> {
    const ip = req.ip ?? 'unknown';
    const who = loggableEmail(asString(req.body?.email).trim().toLowerCase());
    const refusal = await rateLimits?.refusal(
      'login',
      ip,
      TOO_MANY_SIGN_INS,
      { outcome: 'failure', method: 'password', who, ip, requestId: req.id },
      'login.rate_limited',
    );
    if (!refusal) {
      next();
      return;
    }
    metrics?.loginFailed('password', 'rate_limited');
    pages.sendError(res, refusal);
  }

  router.post('/interaction/:uid/login', limitLoginAttempts, checkFormOrigin, async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw outOfStep();
      const about = await describeRequest(details);
      if (passwordUsers.size === 0) throw new GatewayError(400, 'invalid_request', 'password sign-in is not configured on this gateway');
      const email = asString(req.body.email).trim().toLowerCase();
      const password = asString(req.body.password);
      const ip = req.ip ?? 'unknown';
      const who = loggableEmail(email);
      const attempt = await throttle.admit(email, ip); // counted before the password is checked
      if (!attempt.admitted) {
        metrics?.loginFailed('password', 'throttled');
        audit(
          logger,
          'login.throttled',
          {
            outcome: 'failure',
            method: 'password',
            who,
            ip,
            clientId: about.clientId,
            reason: attempt.reason,
            retryAfter: attempt.retryAfter,
          },
          'login throttled',
          'warn',
        );
        res.set('Retry-After', String(attempt.retryAfter));
        renderLogin(res, details, about, { email, errorBlock: notice('error', attempt.message) }, 429);
        return;
      }
      const user = passwordUsers.get(email);
      if (!(await verifyPassword(password, user?.passwordHash))) {
        await throttle.recordFailure(attempt);
        metrics?.loginFailed('password', 'bad_credentials');
        audit(
          logger,
          'login.failed',
          { outcome: 'failure', method: 'password', who, ip, clientId: about.clientId },
          'password login failed',
        );
        renderLogin(res, details, about, { email, errorBlock: notice('error', 'That email and password do not match. Try again.') }, 401);
        return;
      }
      await throttle.recordSuccess(attempt);
      const account = await accounts.recordLogin(email, { emailVerified: true, name: user?.name, facts: { provider: 'password' } });
      if (!policy.allows(account)) {
        metrics?.loginFailed('password', 'not_allowed');
        audit(
          logger,
          'login.refused',
          { outcome: 'failure', method: 'password', who, sub: account.sub, ip, clientId: about.clientId },
          'account not allowed',
        );
        await provider.interactionFinished(
          req,
          res,
          { error: 'access_denied', error_description: 'this account is not allowed to use the gateway' },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      metrics?.loginSucceeded('password');
      audit(
        logger,
        'login.success',
        { outcome: 'success', method: 'password', who, sub: account.sub, ip, clientId: about.clientId },
        'login',
      );
      await provider.interactionFinished(req, res, { login: { accountId: account.sub, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
    } catch (error) {
      next(error);
    }
  });

  router.post('/interaction/:uid/confirm', checkFormOrigin, async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'consent') throw outOfStep();
      const accountId = asString(details.session?.accountId);
      const clientId = asString(details.params.client_id);
      if (req.body.decision !== 'approve') {
        audit(
          logger,
          'consent.denied',
          { outcome: 'denied', sub: accountId, clientId, resource: details.params.resource },
          'consent denied',
        );
        await provider.interactionFinished(
          req,
          res,
          { error: 'access_denied', error_description: 'the person denied access' },
          { mergeWithLastSubmission: true },
        );
        return;
      }
      const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
      const grant = existing ?? new provider.Grant({ accountId, clientId });
      const missing = details.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await rememberGrant(deps.store, accountId, clientId, grantId, config.tokens.grantTtl);
      audit(
        logger,
        'consent.granted',
        { outcome: 'granted', sub: accountId, clientId, resource: details.params.resource },
        'consent granted',
      );
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (error) {
      next(error);
    }
  });

  router.post('/interaction/:uid/abort', checkFormOrigin, async (req, res, next) => {
    try {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'the person cancelled the sign-in' },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      next(error);
    }
  });

  return router;
}
