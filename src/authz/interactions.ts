// The password sign-in and consent pages oidc-provider sends the person to, one named step per
// function. Over 300 lines with its comments (about 280 of code): the steps share one context and
// read best side by side.
import express, { type Request, type Response, type NextFunction, type RequestHandler, Router } from 'express';
import type Provider from 'oidc-provider';
import { audit, loggableEmail } from '../observability/audit.js';
import { GatewayError } from '../web/errors.js';
import { escapeHtml, notice, PAGE_SECURITY_HEADERS, renderFragment, renderPage, SafeHtml, type ViewValues } from '../web/views.js';
import { accountSignInLead } from './account-client.js';
import type { AccountRecord } from './accounts.js';
import type { ConnectedApplications } from './connected-applications.js';
import { rememberGrant } from './consent-memory.js';
import { approveOnce, repeatOfFinishedApproval } from './consent-once.js';
import type { AdmittedAttempt, LoginThrottle, RefusedAttempt } from './login-throttle.js';
import { TOO_MANY_SIGN_INS } from './page-errors.js';
import { verifyPassword } from './password-hash.js';
import { isLocalRedirect } from './redirect-uri-policy.js';
import type { ResourceCatalog } from './resources.js';
import type { SignInDependencies } from './sign-in-dependencies.js';

export interface InteractionDependencies extends SignInDependencies {
  throttle: LoginThrottle;
  resources: ResourceCatalog;
  /** Where each approval is listed for the person's account page. */
  applications: ConnectedApplications;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
type PasswordUser = NonNullable<InteractionDependencies['config']['login']['password']>['users'][number];

/** The dependencies plus what every handler derives from the config, computed once per router. */
interface InteractionContext extends InteractionDependencies {
  host: string;
  publicOrigin: string;
  passwordUsers: Map<string, PasswordUser>;
}

/** Who is asking for what, as the login and consent pages show it. */
interface RequestSummary {
  clientId: string;
  clientName: string;
  redirectUri: string;
  redirectHost: string;
  resource: string;
  serverName: string;
}

/** One password form post, as its steps pass it along. */
interface PasswordPost {
  req: Request;
  res: Response;
  details: Details;
  about: RequestSummary;
  email: string;
  ip: string;
  /** The email as logs may show it. */
  who: string | undefined;
}

const asString = (value: unknown): string => (typeof value === 'string' ? value : '');

/** A form posted for a step the sign-in is no longer at (a second submit, a page left open in another tab). */
const outOfStep = () => new GatewayError(400, 'invalid_request', 'this form belongs to a step of the sign-in that is already over');

/**
 * Login and consent pages that oidc-provider sends the person to, and their form handlers. The
 * handlers are async: Express 5 passes a rejected promise to the error handler.
 */
export function interactionRouter(deps: InteractionDependencies): Router {
  const ctx: InteractionContext = {
    ...deps,
    host: new URL(deps.config.publicUrl).host,
    publicOrigin: new URL(deps.config.publicUrl).origin,
    passwordUsers: new Map((deps.config.login.password?.users ?? []).map((user) => [user.email, user])),
  };
  const router = Router();
  router.use('/interaction', (_req, res, next) => {
    res.set(PAGE_SECURITY_HEADERS);
    next();
  });
  router.use('/interaction', express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));
  const checkForm = formOriginCheck(ctx);
  router.get('/interaction/:uid', (req, res) => showInteraction(ctx, req, res));
  router.post('/interaction/:uid/login', loginRateLimit(ctx), checkForm, (req, res) => submitPassword(ctx, req, res));
  router.post('/interaction/:uid/confirm', checkForm, (req, res) => submitConsent(ctx, req, res));
  router.post('/interaction/:uid/abort', checkForm, (req, res) => abortSignIn(ctx, req, res));
  return router;
}

/** Forms post only from our own pages; a foreign Origin is a cross-site attempt. */
function formOriginCheck(ctx: InteractionContext): RequestHandler {
  const startAgain = 'Go back to the application you were connecting and start again.';
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.get('origin');
    if (req.method === 'POST' && origin && origin !== 'null' && origin !== ctx.publicOrigin) {
      ctx.pages.render(res, 403, 'Request refused', 'This form was sent from another website.', startAgain);
      return;
    }
    if (req.method === 'POST' && !ctx.csrf.verify(String(req.params.uid ?? ''), req.body?.csrf)) {
      ctx.pages.render(res, 403, 'Request refused', 'This form has expired or was not sent from this page.', startAgain);
      return;
    }
    next();
  };
}

/**
 * rateLimits.login, per IP, on every form post: the password throttle counts only failed
 * passwords (per account and per IP), so a refused post here is not counted there as well.
 */
function loginRateLimit(ctx: InteractionContext): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const ip = req.ip ?? 'unknown';
    const who = loggableEmail(asString(req.body?.email).trim().toLowerCase());
    const refusal = await ctx.rateLimits?.refusal(
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
    ctx.metrics?.loginFailed('password', 'rate_limited');
    ctx.pages.sendError(res, refusal);
  };
}

async function describeRequest(ctx: InteractionContext, details: Details): Promise<RequestSummary> {
  const clientId = asString(details.params.client_id);
  const client = await ctx.provider.Client.find(clientId);
  const redirectUri = asString(details.params.redirect_uri) || client?.redirectUris?.[0] || '';
  const resource = asString(details.params.resource) || ctx.resources.soleResource || '';
  return {
    clientId,
    clientName: client?.clientName ?? clientId,
    redirectUri,
    redirectHost: redirectUri ? new URL(redirectUri).host : '(unknown)',
    resource: ctx.resources.canonical(resource) ?? resource,
    serverName: ctx.resources.serverFor(resource) ?? resource,
  };
}

const upstreamStartPath = (uid: string, providerId: string) =>
  `/interaction/${encodeURIComponent(uid)}/upstream/${encodeURIComponent(providerId)}`;

function providerLinks(ctx: InteractionContext, uid: string): SafeHtml | undefined {
  if (ctx.upstreams.size === 0) return undefined;
  const items = [...ctx.upstreams.values()].map(
    (p) => `<li><a href="${upstreamStartPath(uid, p.id)}">Continue with ${escapeHtml(p.label)}</a></li>`,
  );
  const divider = ctx.passwordUsers.size ? '<p class="divider">or with a password</p>' : '';
  return new SafeHtml(`<ul class="providers">${items.join('')}</ul>${divider}`);
}

function renderLogin(
  ctx: InteractionContext,
  res: Response,
  details: Details,
  about: RequestSummary,
  extra: ViewValues = {},
  status = 200,
) {
  const values = {
    uid: details.uid,
    csrf: ctx.csrf.issue(details.uid),
    clientName: about.clientName,
    serverName: about.serverName,
    ...extra,
  };
  // Focus the email field only when it is the first thing on the page, so keyboard order stays top to bottom.
  const autofocus = ctx.upstreams.size ? undefined : new SafeHtml(' autofocus');
  const page = renderPage('login', 'Sign in', ctx.host, {
    ...values,
    ...accountSignInLead(about),
    providerBlock: providerLinks(ctx, details.uid),
    passwordBlock: ctx.passwordUsers.size ? renderFragment('login-password', { ...values, autofocus }) : undefined,
  });
  res.status(status).type('html').send(page);
}

async function renderConsent(ctx: InteractionContext, res: Response, details: Details, about: RequestSummary): Promise<void> {
  const account = await ctx.accounts.findBySub(asString(details.session?.accountId));
  const localWarning =
    `This application runs on your own computer (${about.redirectHost}). ` + 'Only allow it if you started it yourself just now.';
  res.type('html').send(
    renderPage('consent', 'Allow access?', ctx.host, {
      uid: details.uid,
      csrf: ctx.csrf.issue(details.uid),
      email: account?.email ?? '',
      clientName: about.clientName,
      redirectHost: about.redirectHost,
      serverName: about.serverName,
      resource: about.resource,
      warningBlock: isLocalRedirect(about.redirectUri) ? notice('warning', localWarning) : undefined,
    }),
  );
}

/** GET of the page oidc-provider sends the person to: sign in, or allow access. */
async function showInteraction(ctx: InteractionContext, req: Request, res: Response): Promise<void> {
  const details = await ctx.provider.interactionDetails(req, res);
  const about = await describeRequest(ctx, details);
  if (details.prompt.name !== 'login') return renderConsent(ctx, res, details, about);
  // With a single identity provider and no passwords there is nothing to choose.
  if (ctx.passwordUsers.size === 0 && ctx.upstreams.size === 1) {
    res.redirect(303, upstreamStartPath(details.uid, [...ctx.upstreams.keys()][0]!));
    return;
  }
  renderLogin(ctx, res, details, about);
}

async function submitPassword(ctx: InteractionContext, req: Request, res: Response): Promise<void> {
  const details = await ctx.provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') throw outOfStep();
  const about = await describeRequest(ctx, details);
  if (ctx.passwordUsers.size === 0) throw new GatewayError(400, 'invalid_request', 'password sign-in is not configured on this gateway');
  const email = asString(req.body.email).trim().toLowerCase();
  const post: PasswordPost = { req, res, details, about, email, ip: req.ip ?? 'unknown', who: loggableEmail(email) };
  const attempt = await ctx.throttle.admit(email, post.ip); // counted before the password is checked
  if (!attempt.admitted) return refuseThrottled(ctx, post, attempt);
  const user = ctx.passwordUsers.get(email);
  if (!(await verifyPassword(asString(req.body.password), user?.passwordHash))) return refuseWrongPassword(ctx, post, attempt);
  await ctx.throttle.recordSuccess(attempt);
  const account = await ctx.accounts.recordLogin(email, { emailVerified: true, name: user?.name, facts: { provider: 'password' } });
  await finishPasswordLogin(ctx, post, account);
}

function refuseThrottled(ctx: InteractionContext, post: PasswordPost, attempt: RefusedAttempt): void {
  const { who, ip, about, email } = post;
  ctx.metrics?.loginFailed('password', 'throttled');
  audit(
    ctx.logger,
    'login.throttled',
    { outcome: 'failure', method: 'password', who, ip, clientId: about.clientId, reason: attempt.reason, retryAfter: attempt.retryAfter },
    'login throttled',
    'warn',
  );
  post.res.set('Retry-After', String(attempt.retryAfter));
  renderLogin(ctx, post.res, post.details, about, { email, errorBlock: notice('error', attempt.message) }, 429);
}

async function refuseWrongPassword(ctx: InteractionContext, post: PasswordPost, attempt: AdmittedAttempt): Promise<void> {
  const { who, ip, about, email } = post;
  await ctx.throttle.recordFailure(attempt);
  ctx.metrics?.loginFailed('password', 'bad_credentials');
  audit(ctx.logger, 'login.failed', { outcome: 'failure', method: 'password', who, ip, clientId: about.clientId }, 'password login failed');
  const errorBlock = notice('error', 'That email and password do not match. Try again.');
  renderLogin(ctx, post.res, post.details, about, { email, errorBlock }, 401);
}

/** The password was right: the access policy has the last word. */
async function finishPasswordLogin(ctx: InteractionContext, post: PasswordPost, account: AccountRecord): Promise<void> {
  const { req, res, who, ip, about } = post;
  if (!ctx.policy.allows(account)) {
    ctx.metrics?.loginFailed('password', 'not_allowed');
    const fields = { outcome: 'failure', method: 'password', who, sub: account.sub, ip, clientId: about.clientId };
    audit(ctx.logger, 'login.refused', fields, 'account not allowed');
    const refusal = { error: 'access_denied', error_description: 'this account is not allowed to use the gateway' };
    await ctx.provider.interactionFinished(req, res, refusal, { mergeWithLastSubmission: false });
    return;
  }
  ctx.metrics?.loginSucceeded('password');
  audit(
    ctx.logger,
    'login.success',
    { outcome: 'success', method: 'password', who, sub: account.sub, ip, clientId: about.clientId },
    'login',
  );
  const login = { accountId: account.sub, amr: ['pwd'] };
  await ctx.provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
}

async function submitConsent(ctx: InteractionContext, req: Request, res: Response): Promise<void> {
  let details: Details;
  try {
    details = await ctx.provider.interactionDetails(req, res);
  } catch (error) {
    return answerRepeatedApproval(ctx, req, res, error);
  }
  if (details.prompt.name !== 'consent') throw outOfStep();
  const accountId = asString(details.session?.accountId);
  const clientId = asString(details.params.client_id);
  const resource = details.params.resource;
  if (req.body.decision !== 'approve') {
    audit(ctx.logger, 'consent.denied', { outcome: 'denied', sub: accountId, clientId, resource }, 'consent denied');
    const denial = { error: 'access_denied', error_description: 'the person denied access' };
    await ctx.provider.interactionFinished(req, res, denial, { mergeWithLastSubmission: true });
    return;
  }
  // Approved once per interaction: a double click or a retried POST gets the first approval's answer.
  const returnTo = await approveOnce(ctx.store, details.uid, accountId, async () => {
    const grantId = await saveGrant(ctx.provider, details, accountId, clientId);
    await rememberGrant(ctx.store, accountId, clientId, grantId, ctx.config.tokens.grantTtl);
    await ctx.applications.recordGrant(accountId, clientId, grantId);
    audit(ctx.logger, 'consent.granted', { outcome: 'granted', sub: accountId, clientId, resource }, 'consent granted');
    return ctx.provider.interactionResult(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });
  if (!returnTo) throw outOfStep();
  res.redirect(303, returnTo);
}

/** The interaction is over: a repeated approval gets the redirect the first one led to, anything else the error. */
async function answerRepeatedApproval(ctx: InteractionContext, req: Request, res: Response, error: unknown): Promise<void> {
  const approved = req.body.decision === 'approve';
  const location = approved
    ? await repeatOfFinishedApproval(ctx.provider, ctx.store, String(req.params.uid ?? ''), { req, res })
    : undefined;
  if (!location) throw error;
  res.redirect(303, location);
}

/**
 * Adds what the consent prompt found missing to the person's grant for this client: the one this
 * interaction already approved (a repeat after approveOnce's window), else their existing one, else a new one.
 */
async function saveGrant(provider: Provider, details: Details, accountId: string, clientId: string): Promise<string> {
  const grantId = details.result?.consent?.grantId ?? details.grantId;
  const existing = grantId ? await provider.Grant.find(grantId) : undefined;
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
  return grant.save();
}

async function abortSignIn(ctx: InteractionContext, req: Request, res: Response): Promise<void> {
  const cancellation = { error: 'access_denied', error_description: 'the person cancelled the sign-in' };
  await ctx.provider.interactionFinished(req, res, cancellation, { mergeWithLastSubmission: false });
}
