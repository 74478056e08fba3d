import type { Browser, Page } from 'playwright-core';
import { captureRedirect } from './chromium.js';
import { authorizeUrl, pkcePair, registerClient } from './oauth-client.js';

/** The connector the upstream sign-in tests play: Claude.ai's redirect URI, a public client. */
export const CLAUDE = 'https://claude.ai/api/mcp/auth_callback';

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_r, reject) => {
      timer = setTimeout(() => reject(new Error(what)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Starts a connector's authorization at the gateway in a fresh browser and clicks the given sign-in button. */
export async function beginUpstreamSignIn(browser: Browser, base: string, label: string) {
  const client = await registerClient(base, { redirect_uris: [CLAUDE], token_endpoint_auth_method: 'none', client_name: 'Claude' });
  const { verifier, challenge } = pkcePair();
  const context = await browser.newContext();
  const page = await context.newPage();
  const redirected = captureRedirect(page, CLAUDE);
  // The timeout starts only when a test waits for the client, so an abandoned flow leaves nothing pending.
  const landed = () => withTimeout(redirected, 20_000, 'the client never got the browser back');
  await page.goto(authorizeUrl(base, { client, challenge, method: 'S256', state: 'st' }));
  await page.getByRole('link', { name: `Continue with ${label}` }).click();
  return { client, verifier, page, context, landed };
}

/** The fake IdP's stock login and consent pages (an oidc-provider instance). */
export async function signInAtIdp(page: Page, login: string): Promise<void> {
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('anything');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}
