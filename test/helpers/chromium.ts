import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * Stands in for the client's own site: navigation to its redirect URI is captured instead of
 * leaving the machine, and the URL the gateway sent the browser to is returned.
 */
export function captureRedirect(page: Page, redirectUri: string): Promise<URL> {
  const target = new URL(redirectUri);
  const isTarget = (url: URL) => url.origin === target.origin && url.pathname === target.pathname;
  return new Promise((resolve) => {
    void page.route(isTarget, async (route) => {
      resolve(new URL(route.request().url()));
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>client</title><p>Connected.</p>' });
    });
    // Playwright's routes miss some redirected navigations (a page.goto answered straight with a
    // redirect); the request is still announced, then fails to resolve, which is fine here.
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (isTarget(url)) resolve(url);
    });
  });
}

/** Fills the login form and, when asked, the consent page, the way a person would. */
export async function signInAndApprove(
  page: Page,
  user: { email: string; password: string },
  decision: 'Allow' | 'Deny' = 'Allow',
): Promise<void> {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const consent = page.getByRole('button', { name: decision });
  await consent.waitFor({ state: 'visible', timeout: 10_000 });
  await consent.click();
}

/**
 * Saves a picture of the page for people to look at (test-results/screenshots). It is an
 * artefact, not an assertion: Chromium on a busy machine sometimes cannot capture a frame
 * ("Unable to capture screenshot"), which must not fail the behaviour under test.
 */
export async function saveScreenshot(page: Page, path: string): Promise<void> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await page.screenshot({ path });
      return;
    } catch (error) {
      if (attempt === 2) process.stderr.write(`screenshot ${path} not saved: ${(error as Error).message.split('\n')[0]}\n`);
    }
  }
}
