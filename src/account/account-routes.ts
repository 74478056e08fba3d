// /account: the signed-in person's secrets and connected applications. Plain HTML forms (no
// JavaScript), each post answered with a redirect back to the page (or the page with the error).
import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ACCOUNT_SIGNED_IN_PATH } from '../authz/account-client.js';
import type { ConnectedApplications } from '../authz/connected-applications.js';
import type { CsrfTokens } from '../authz/csrf.js';
import { accessTokenTtlFor } from '../authz/provider.js';
import type { ResourceCatalog } from '../authz/resources.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { audit } from '../observability/audit.js';
import type { SecretSource } from '../secrets/secret-source.js';
import type { ErrorPages } from '../web/error-pages.js';
import { GatewayError } from '../web/errors.js';
import { PAGE_SECURITY_HEADERS, SafeHtml } from '../web/views.js';
import { durationInWords, renderAccountPage, type FieldError } from './account-page.js';
import { endSession, finishSignIn, signedInPerson, startSignIn, type SessionDependencies, type SignedIn } from './account-session.js';
import { declaredSecrets, valueProblem, type ServerSecrets } from './secret-declarations.js';

export interface AccountPageDependencies extends SessionDependencies {
  config: Pick<GatewayConfig, 'publicUrl' | 'mcpServers' | 'tokens'>;
  csrf: CsrfTokens;
  pages: ErrorPages;
  logger: Logger;
  resources: ResourceCatalog;
  applications: ConnectedApplications;
  /** The vault; absent when the gateway has no secrets key. */
  secrets?: SecretSource;
}

interface AccountContext extends AccountPageDependencies {
  host: string;
  publicOrigin: string;
  servers: ServerSecrets[];
}

/** Form tokens are bound to the sign-in session: a page of another session (or site) cannot post here. */
const csrfSubject = (person: SignedIn) => `account:${person.sessionUid}`;

const asString = (value: unknown): string => (typeof value === 'string' ? value : '');

export function accountRouter(deps: AccountPageDependencies): Router {
  const ctx: AccountContext = {
    ...deps,
    host: new URL(deps.publicUrl).host,
    publicOrigin: new URL(deps.publicUrl).origin,
    servers: declaredSecrets(deps.config),
  };
  const router = Router();
  router.use('/account', (_req, res, next) => {
    res.set(PAGE_SECURITY_HEADERS);
    next();
  });
  router.use('/account', express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 10 }));
  router.get('/account', (req, res) => showAccount(ctx, req, res));
  router.get(ACCOUNT_SIGNED_IN_PATH, (req, res) => signedIn(ctx, req, res));
  const form = signedInForm(ctx);
  router.post('/account/secrets', form, (req, res) => submitSecret(ctx, req, res));
  router.post('/account/applications/revoke', form, (req, res) => revokeApplication(ctx, req, res));
  router.post('/account/sign-out', form, (req, res) => signOut(ctx, req, res));
  return router;
}

/** Who is signed in, or the answer already sent: the sign-in, or the refusal of an account no longer allowed. */
async function personOrAnswer(ctx: AccountContext, req: Request, res: Response): Promise<SignedIn | undefined> {
  const person = await signedInPerson(ctx, req, res);
  if (person === 'refused') {
    ctx.pages.render(
      res,
      403,
      'Access refused',
      'This account is not allowed to use this gateway.',
      'Ask the gateway operator for access.',
    );
    return undefined;
  }
  if (!person) {
    if (req.method === 'GET') startSignIn(ctx.publicUrl, req, res);
    // A form posted after the sign-in ended: sign in again from the page.
    else res.redirect(303, '/account');
    return undefined;
  }
  return person;
}

/** Every post: signed in, from this gateway's own page, with the form token of this session. */
function signedInForm(ctx: AccountContext): RequestHandler {
  const reloadAdvice = 'Open your account page again and repeat what you were doing.';
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const origin = req.get('origin');
    if (origin && origin !== 'null' && origin !== ctx.publicOrigin) {
      ctx.pages.render(res, 403, 'Request refused', 'This form was sent from another website.', reloadAdvice);
      return;
    }
    const person = await personOrAnswer(ctx, req, res);
    if (!person) return;
    if (!ctx.csrf.verify(csrfSubject(person), req.body?.csrf)) {
      ctx.pages.render(res, 403, 'Request refused', 'This form has expired or was not sent from this page.', reloadAdvice);
      return;
    }
    res.locals.person = person;
    next();
  };
}

async function showAccount(ctx: AccountContext, req: Request, res: Response): Promise<void> {
  const person = await personOrAnswer(ctx, req, res);
  if (!person) return;
  await sendPage(ctx, res, person, { status: statusMessage(ctx, req) });
}

async function sendPage(
  ctx: AccountContext,
  res: Response,
  person: SignedIn,
  extra: { status?: string; fieldError?: FieldError; httpStatus?: number },
): Promise<void> {
  const sub = person.account.sub;
  const servers = await Promise.all(
    ctx.servers.map(async (server) => {
      const set = ctx.secrets ? await ctx.secrets.list(sub, server.server) : [];
      return { ...server, set: new Map(set.map((entry) => [entry.name, entry.updatedAt])) };
    }),
  );
  const applications = (await ctx.applications.list(sub)).map((app) => ({
    ...app,
    serverNames: app.resources.map((resource) => ctx.resources.serverFor(resource) ?? resource),
  }));
  const lifetimes = applications.map((app) => accessTokenTtlFor(ctx.config, app));
  res
    .status(extra.httpStatus ?? 200)
    .type('html')
    .send(
      renderAccountPage({
        host: ctx.host,
        email: person.account.email,
        csrf: ctx.csrf.issue(csrfSubject(person)),
        status: extra.status,
        servers,
        secretsUnavailable: !ctx.secrets,
        fieldError: extra.fieldError,
        applications,
        accessTokenLifetime: durationInWords(Math.max(ctx.config.tokens.accessTokenTtl, ...lifetimes)),
      }),
    );
}

/**
 * The line at the top after a redirect (`?saved=`, `?deleted=`, `?revoked=`). Built from the
 * config's own labels and the page's own data only: a crafted link cannot put words on the page.
 */
function statusMessage(ctx: AccountContext, req: Request): string | undefined {
  const secretLabel = (value: unknown) => {
    const [server, name] = asString(value).split('/');
    const declared = ctx.servers.find((s) => s.server === server)?.secrets.find((s) => s.name === name);
    return declared ? `${declared.declaration.label ?? name} for ${server}` : undefined;
  };
  const saved = secretLabel(req.query.saved);
  if (saved) return `Saved: ${saved}.`;
  const deleted = secretLabel(req.query.deleted);
  if (deleted) return `Deleted: ${deleted}.`;
  if (req.query.revoked !== undefined) return 'Access revoked. The application can no longer get new tokens.';
  return undefined;
}

/** Back from the sign-in: to the page (and the section the person was sent to). */
async function signedIn(ctx: AccountContext, req: Request, res: Response): Promise<void> {
  const { started, section } = finishSignIn(ctx.publicUrl, req, res);
  const again = new SafeHtml('<p><a href="/account">Sign in again</a></p>');
  if (req.query.error !== undefined) {
    // The authorization server's words, only for the sign-in this browser started: a crafted link cannot put words here.
    const said = started ? asString(req.query.error_description) : '';
    const message = said ? said.charAt(0).toUpperCase() + said.slice(1) : 'The sign-in did not finish.';
    ctx.pages.render(res, 403, 'Not signed in', message, 'You can try again.', again);
    return;
  }
  const person = await signedInPerson(ctx, req, res);
  if (!person || person === 'refused') {
    const advice = 'Allow cookies for this site, then try again.';
    ctx.pages.render(res, 400, 'Not signed in', 'Your browser did not keep the sign-in.', advice, again);
    return;
  }
  res.redirect(303, section ? `/account#${section}` : '/account');
}

async function submitSecret(ctx: AccountContext, req: Request, res: Response): Promise<void> {
  const person = res.locals.person as SignedIn;
  const serverName = asString(req.body.server);
  const name = asString(req.body.name);
  const declared = ctx.servers.find((s) => s.server === serverName)?.secrets.find((s) => s.name === name);
  if (!declared)
    throw new GatewayError(400, 'invalid_request', `server ${serverName || '(none)'} declares no secret named ${name || '(none)'}`);
  if (!ctx.secrets) throw new GatewayError(503, 'secrets_unavailable', 'secrets cannot be saved: the gateway has no secrets key');
  const sub = person.account.sub;
  if (req.body.action === 'delete') {
    // The vault writes the audit event (names only).
    await ctx.secrets.delete(sub, serverName, name);
    res.redirect(303, `/account?deleted=${encodeURIComponent(`${serverName}/${name}`)}#${serverName}`);
    return;
  }
  const value = asString(req.body.value).trim();
  const problem = valueProblem(declared.declaration, name, value);
  if (problem) {
    await sendPage(ctx, res, person, { fieldError: { server: serverName, name, message: problem }, httpStatus: 400 });
    return;
  }
  try {
    await ctx.secrets.set(sub, serverName, name, value);
  } catch (error) {
    // The vault's own checks, should they refuse what the page let through: shown at the field too.
    if (!(error instanceof GatewayError) || error.status !== 400) throw error;
    await sendPage(ctx, res, person, { fieldError: { server: serverName, name, message: error.message }, httpStatus: 400 });
    return;
  }
  res.redirect(303, `/account?saved=${encodeURIComponent(`${serverName}/${name}`)}#${serverName}`);
}

async function revokeApplication(ctx: AccountContext, req: Request, res: Response): Promise<void> {
  const person = res.locals.person as SignedIn;
  const clientId = asString(req.body.client);
  const grantId = await ctx.applications.revoke(person.account.sub, clientId);
  if (!grantId) throw new GatewayError(404, 'not_found', 'this application is not connected to your account');
  audit(ctx.logger, 'grant.revoked', { sub: person.account.sub, clientId, grantId, by: 'account page' }, 'grant revoked', 'warn');
  res.redirect(303, '/account?revoked#account:applications');
}

async function signOut(ctx: AccountContext, _req: Request, res: Response): Promise<void> {
  const person = res.locals.person as SignedIn;
  await endSession(ctx.provider, person.sessionId);
  const again = new SafeHtml('<p><a href="/account">Sign in again</a></p>');
  ctx.pages.render(
    res,
    200,
    'Signed out',
    'You are signed out of this gateway in this browser.',
    'Applications you connected keep their access until you revoke it.',
    again,
  );
}
