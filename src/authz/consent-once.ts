// A consent form approved twice (a double click, a browser or client retrying the POST, the repeat
// perhaps on another replica) is approved once: one grant, one authorization code. For a few
// seconds a repeat gets the first approval's answer: where the person was sent, or, once the
// authorization went on to the client, that same redirect with the same code.
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { KeyValueStore } from '../storage/store.js';

/** Seconds during which a repeated approval of one sign-in gets the first one's answer. */
export const CONSENT_REPEAT_WINDOW = 10;
/** How long a repeat waits for the first approval (or its authorization) to finish. */
const PENDING_MS = 5000;
const POLL_MS = 25;

/**
 * One interaction's approval, by the person who gave it: pending until `returnTo` (where
 * oidc-provider resumes the authorization) is known; `location` is where that resumption sent the
 * person (the client's redirect URI with the code). The code is kept as the adapter keeps it: it
 * is worth nothing without the client's PKCE verifier.
 */
interface Approval {
  accountId: string;
  returnTo?: string;
  location?: string;
}

const approvalKey = (uid: string) => `consent:once:${uid}`;

/**
 * Runs `approve` (save the grant, record the interaction's result; returns where to send the
 * person) once per interaction. A repeat waits for the first and gets its answer; a first that
 * fails leaves nothing behind, so the repeat is judged afresh. Undefined: not a repeat this
 * person may have (another account's approval).
 */
export async function approveOnce(
  store: KeyValueStore,
  uid: string,
  accountId: string,
  approve: () => Promise<string>,
): Promise<string | undefined> {
  const key = approvalKey(uid);
  const deadline = Date.now() + PENDING_MS;
  while (Date.now() < deadline) {
    if (await store.setIfAbsent(key, { accountId } satisfies Approval, CONSENT_REPEAT_WINDOW)) {
      try {
        const returnTo = await approve();
        await store.set(key, { accountId, returnTo } satisfies Approval, CONSENT_REPEAT_WINDOW);
        return returnTo;
      } catch (error) {
        await store.delete(key).catch(() => {});
        throw error;
      }
    }
    const earlier = await store.get<Approval>(key);
    if (earlier && earlier.accountId !== accountId) return undefined;
    const answer = earlier?.location ?? earlier?.returnTo;
    if (answer) return answer;
    await sleep(POLL_MS);
  }
  return undefined;
}

/** Where the approved interaction's authorization sent the person, waiting a little for it to get there. */
async function finalLocation(store: KeyValueStore, uid: string): Promise<Approval | undefined> {
  const deadline = Date.now() + PENDING_MS;
  for (;;) {
    const approval = await store.get<Approval>(approvalKey(uid));
    // No approval, or not resumed yet and nobody may be resuming it: nothing to wait for.
    if (!approval?.returnTo || approval.location || Date.now() > deadline) return approval?.location ? approval : undefined;
    await sleep(POLL_MS);
  }
}

type Cookies = ReturnType<Provider['createContext']>['cookies'];

/** The account signed in to the browser's session, read from its signed cookie as oidc-provider reads it. */
async function sessionAccount(provider: Provider, cookies: Cookies): Promise<string | undefined> {
  const sessionId = cookies.get(provider.cookieName('session'), { signed: true });
  return sessionId ? (await provider.Session.find(sessionId))?.accountId : undefined;
}

/**
 * A repeat of an approval whose interaction is over (oidc-provider consumed it when it resumed the
 * authorization): the redirect the first approval led to, for the browser that started this
 * interaction (its signed cookie names it) and the person who approved (its session's account).
 */
export async function repeatOfFinishedApproval(
  provider: Provider,
  store: KeyValueStore,
  uid: string,
  { req, res }: { req: IncomingMessage; res: ServerResponse },
): Promise<string | undefined> {
  const { cookies } = provider.createContext(req, res);
  if (cookies.get(provider.cookieName('interaction'), { signed: true }) !== uid) return undefined;
  const approval = await finalLocation(store, uid);
  if (!approval) return undefined;
  return (await sessionAccount(provider, cookies)) === approval.accountId ? approval.location : undefined;
}

/**
 * Resumptions of approved authorizations (GET /authorize/<uid>): where they send the person is
 * kept with the approval. A second one, which oidc-provider refuses because the first consumed
 * the interaction, is sent there too when it comes from the same browser (its signed resume cookie
 * names this interaction) or from the person who approved (its session, renewed by the first).
 */
export function answerRepeatedResumptions(provider: Provider, store: KeyValueStore, authorizationPath: string): void {
  const prefix = `${authorizationPath}/`;
  provider.use(async (ctx, next) => {
    const uid = ctx.method === 'GET' && ctx.path.startsWith(prefix) ? ctx.path.slice(prefix.length) : '';
    if (!uid || uid.includes('/')) return next();
    await next();
    const location = ctx.status >= 300 && ctx.status < 400 ? ctx.response.get('location') : '';
    if (location) {
      const approval = await store.get<Approval>(approvalKey(uid));
      if (approval && !approval.location) await store.set(approvalKey(uid), { ...approval, location }, CONSENT_REPEAT_WINDOW);
      return;
    }
    const approval = ctx.status >= 400 ? await finalLocation(store, uid) : undefined;
    if (!approval?.location) return;
    const sameBrowser = ctx.cookies.get(provider.cookieName('resume'), { signed: true }) === uid;
    if (!sameBrowser && (await sessionAccount(provider, ctx.cookies)) !== approval.accountId) return;
    ctx.status = 303;
    ctx.redirect(approval.location);
  });
}
