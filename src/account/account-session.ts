import { createHash, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type Provider from 'oidc-provider';
import { ACCOUNT_CLIENT_ID, ACCOUNT_SIGNED_IN_PATH } from '../authz/account-client.js';
import type { AccessPolicy } from '../authz/access-policy.js';
import type { AccountDirectory, AccountRecord } from '../authz/accounts.js';
import { SERVER_NAME } from '../config/server-names.js';
import { sameSecret } from '../lib/same-secret.js';

/** The person the browser is signed in as, from the authorization server's own session. */
export interface SignedIn {
  account: AccountRecord;
  /** Stable for the session (the cookie's id is not): what the page's form tokens are bound to. */
  sessionUid: string;
  /** The session's id, to end it on sign-out. */
  sessionId: string;
}

export interface SessionDependencies {
  provider: Provider;
  accounts: AccountDirectory;
  policy: AccessPolicy;
  publicUrl: string;
}

/**
 * Who is signed in: oidc-provider's `_session` cookie (signed with the gateway's cookie keys) names
 * the session the sign-in pages created. No session, or an account the access rules no longer
 * allow: undefined or "refused", and the page never shows anything of it.
 */
export async function signedInPerson(deps: SessionDependencies, req: Request, res: Response): Promise<SignedIn | 'refused' | undefined> {
  const session = await deps.provider.Session.get({ req, res } as never);
  if (!session.accountId) return undefined;
  const account = await deps.accounts.findBySub(session.accountId);
  if (!account) return undefined;
  if (!deps.policy.allows(account)) return 'refused';
  return { account, sessionUid: session.uid, sessionId: session.jti };
}

/** Ends the session: the next visit signs in again. */
export async function endSession(provider: Provider, sessionId: string): Promise<void> {
  const session = await provider.Session.find(sessionId);
  await session?.destroy();
}

const SIGN_IN_COOKIE = 'account_sign_in';
const SIGN_IN_TTL_MS = 60 * 60 * 1000;

/**
 * Sends the person through the authorization server's sign-in as the account client. A cookie
 * carries the request's state and the section to come back to (`?server=<name>`: a fragment does
 * not survive the sign-in's form posts).
 */
export function startSignIn(publicUrl: string, req: Request, res: Response): void {
  const state = randomBytes(16).toString('base64url');
  const section = typeof req.query.server === 'string' && SERVER_NAME.test(req.query.server) ? req.query.server : '';
  res.cookie(SIGN_IN_COOKIE, `${state}.${section}`, {
    httpOnly: true,
    sameSite: 'lax',
    secure: publicUrl.startsWith('https:'),
    path: '/account',
    maxAge: SIGN_IN_TTL_MS,
  });
  // PKCE is required of every client; this code is never exchanged (the page reads the session).
  const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
  const query = new URLSearchParams({
    client_id: ACCOUNT_CLIENT_ID,
    response_type: 'code',
    redirect_uri: `${publicUrl}${ACCOUNT_SIGNED_IN_PATH}`,
    scope: 'openid',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  res.redirect(303, `/authorize?${query}`);
}

/**
 * Back from the sign-in: whether it is the one this browser started (its state matches the
 * cookie), and then the section to show.
 */
export function finishSignIn(publicUrl: string, req: Request, res: Response): { started: boolean; section: string } {
  const cookie = cookieValue(req);
  res.clearCookie(SIGN_IN_COOKIE, { path: '/account', httpOnly: true, sameSite: 'lax', secure: publicUrl.startsWith('https:') });
  const [state = '', section = ''] = (cookie ?? '').split('.');
  const returned = typeof req.query.state === 'string' ? req.query.state : '';
  const started = state !== '' && sameSecret(state, returned);
  return { started, section: started ? section : '' };
}

/** Express has no cookie parser here: the one cookie this page sets, read from the header. */
function cookieValue(req: Request): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === SIGN_IN_COOKIE) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}
