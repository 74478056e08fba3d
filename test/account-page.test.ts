import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { packageRoot } from '../src/paths.js';
import { signedInPage, startAccountGateway, type AccountGateway } from './helpers/account-gateway.js';
import { ALICE, BOB, startTestGateway, testConfigJson } from './helpers/gateway.js';
import { captureRedirect, launchChromium, saveScreenshot } from './helpers/chromium.js';
import { authorizeUrl, exchangeCode, pkcePair, refresh, registerClient } from './helpers/oauth-client.js';

const SCREENSHOTS = resolve(packageRoot, 'test-results', 'screenshots');

const tokenField = (page: Page) => page.getByLabel('GitHub token');

describe('the account page (/account) in headless Chromium', () => {
  let gw: AccountGateway;
  let browser: Browser;
  let alice: { context: BrowserContext; page: Page };
  /** Bob's cookies and form token, kept from his visit to try them against Alice's forms. */
  let bobSession: { cookie: string; token: string } | undefined;
  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [gw, browser] = await Promise.all([startAccountGateway(), launchChromium()]);
    alice = await signedInPage(browser, gw.url, ALICE, '/account?server=github');
  });
  after(async () => {
    await alice?.context.close();
    await browser?.close();
    await gw?.close();
  });

  it('sends a visitor through the same sign-in and back to the section they were sent to', async () => {
    const { page } = alice;
    assert.equal(new URL(page.url()).pathname, '/account');
    assert.equal(new URL(page.url()).hash, '#github');
    const text = (await page.textContent('main')) ?? '';
    assert.match(text, /Signed in as alice@example\.com/);
    assert.equal(await page.locator('section#github h3').textContent(), 'github');
    // Only servers that declare secrets have a section.
    assert.equal(await page.locator('section#demo').count(), 0);
    const response = await page.request.get(`${gw.url}/account`);
    for (const header of ['content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy'])
      assert.ok(response.headers()[header], `${header} is set`);
    assert.equal(response.headers()['cache-control'], 'no-store');
  });

  it('saves a secret without ever showing it again, replaces it, deletes it, and explains a value that does not fit', async () => {
    const { page } = alice;
    const sub = await gw.subOf(ALICE.email);
    await page.goto(`${gw.url}/account#github`);
    assert.match(
      (await page.locator('section#github').textContent()) ?? '',
      /Not set\. This server cannot run its tools for you without it\./,
    );
    assert.equal(await tokenField(page).getAttribute('type'), 'password');
    assert.equal(await tokenField(page).getAttribute('autocomplete'), 'off');

    await tokenField(page).fill('not-a-github-token');
    await tokenField(page).press('Enter');
    const error = page.locator('.field-error');
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /does not look like a GitHub token: it should match \^gh\[pousr\]_/);
    assert.equal(await tokenField(page).getAttribute('aria-invalid'), 'true');
    const describedBy = (await tokenField(page).getAttribute('aria-describedby')) ?? '';
    assert.ok(describedBy.split(' ').includes((await error.getAttribute('id'))!), 'the error describes the field');
    assert.equal(await gw.secrets.get(sub, 'github', 'GITHUB_TOKEN'), undefined);
    assert.ok(!(await page.content()).includes('not-a-github-token'), 'a refused value is not echoed');

    await tokenField(page).fill('ghp_first_value_1234');
    await tokenField(page).press('Enter');
    await page.getByText('Saved: GitHub token for github.').waitFor();
    assert.equal(await gw.secrets.get(sub, 'github', 'GITHUB_TOKEN'), 'ghp_first_value_1234');
    assert.match((await page.locator('section#github').textContent()) ?? '', /Set on \d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC/);
    assert.ok(!(await page.content()).includes('ghp_first_value_1234'), 'the value is never shown again');
    assert.equal(await tokenField(page).inputValue(), '');

    await tokenField(page).fill('ghp_second_value_5678');
    await page.getByRole('button', { name: 'Replace GitHub token' }).click();
    await page.waitForURL(/saved=/);
    assert.equal(await gw.secrets.get(sub, 'github', 'GITHUB_TOKEN'), 'ghp_second_value_5678');
    assert.ok(!(await page.content()).includes('ghp_second_value_5678'));

    await page.getByRole('button', { name: 'Delete GitHub token' }).click();
    await page.getByText('Deleted: GitHub token for github.').waitFor();
    assert.equal(await gw.secrets.get(sub, 'github', 'GITHUB_TOKEN'), undefined);
    assert.equal(await page.getByRole('button', { name: 'Delete GitHub token' }).count(), 0);
    assert.ok(gw.logs.lines.some((line) => /"event":"secret.set"/.test(line) && line.includes('"name":"GITHUB_TOKEN"')));
    assert.ok(!gw.logs.lines.some((line) => line.includes('ghp_')), 'no value reaches the log');
  });

  it("never shows one person's secrets to another", async () => {
    const aliceSub = await gw.subOf(ALICE.email);
    await gw.secrets.set(aliceSub, 'github', 'GITHUB_ORG', 'alice-private-org');
    const bob = await signedInPage(browser, gw.url, BOB);
    try {
      const text = (await bob.page.textContent('main')) ?? '';
      assert.match(text, /Signed in as bob@example\.com/);
      assert.doesNotMatch(text, /alice/);
      assert.match((await bob.page.locator('section#github').textContent()) ?? '', /Organisation\s*Get it|Organisation[\s\S]*Not set\./);
      assert.equal(await bob.page.getByRole('button', { name: 'Delete Organisation' }).count(), 0);
      // Bob saving his own value leaves Alice's as it was.
      await bob.page.getByLabel('Organisation').fill('bobs-org');
      await bob.page.getByLabel('Organisation').press('Enter');
      await bob.page.getByText('Saved: Organisation for github.').waitFor();
      assert.equal(await gw.secrets.get(await gw.subOf(BOB.email), 'github', 'GITHUB_ORG'), 'bobs-org');
      assert.equal(await gw.secrets.get(aliceSub, 'github', 'GITHUB_ORG'), 'alice-private-org');
      const cookie = (await bob.context.cookies(gw.url)).map((c) => `${c.name}=${c.value}`).join('; ');
      bobSession = { cookie, token: (await bob.page.locator('input[name=csrf]').first().getAttribute('value'))! };
    } finally {
      await bob.context.close();
    }
  });

  it('refuses a form without its token, with another session’s token, or from another site', async () => {
    const sub = await gw.subOf(ALICE.email);
    const cookie = (await alice.context.cookies(gw.url)).map((c) => `${c.name}=${c.value}`).join('; ');
    const html = await (await fetch(`${gw.url}/account`, { headers: { cookie } })).text();
    const token = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${gw.url}/account/secrets`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ server: 'github', name: 'GITHUB_TOKEN', action: 'save', value: 'ghp_forged', ...fields }),
      });
    const withoutToken = await post({});
    assert.equal(withoutToken.status, 403);
    assert.match(await withoutToken.text(), /This form has expired or was not sent from this page/);
    assert.equal((await post({ csrf: 'x'.repeat(43) })).status, 403);
    assert.equal((await post({ csrf: bobSession!.token })).status, 403, "Bob's token is not Alice's");
    assert.equal((await post({ csrf: token }, { origin: 'https://evil.example' })).status, 403);
    assert.equal(await gw.secrets.get(sub, 'github', 'GITHUB_TOKEN'), undefined);
    // The same form with its token is accepted: the refusals above were about the token and the origin.
    const accepted = await post({ csrf: token, value: 'ghp_from_the_page' });
    assert.equal(accepted.status, 303);
    assert.equal(await gw.secrets.get(sub, 'github', 'GITHUB_TOKEN'), 'ghp_from_the_page');
    await gw.secrets.delete(sub, 'github', 'GITHUB_TOKEN');
    // Without a session there is no page and no form: the visitor is sent to sign in.
    const anonymous = await fetch(`${gw.url}/account`, { redirect: 'manual' });
    assert.equal(anonymous.status, 303);
    assert.match(anonymous.headers.get('location') ?? '', /^\/authorize\?client_id=mcp-oauth-gateway-account&/);
  });

  it('lists an application after an OAuth grant; revoking it makes its refresh token fail at /token', async () => {
    const redirect = 'https://claude.ai/api/mcp/auth_callback';
    const client = await registerClient(gw.url, {
      redirect_uris: [redirect],
      token_endpoint_auth_method: 'none',
      client_name: 'Claude (account test)',
    });
    const { verifier, challenge } = pkcePair();
    const { page } = alice;
    const landed = captureRedirect(page, redirect);
    const resource = `${gw.url}/mcp/demo`;
    // Already signed in (the account page's sign-in is the same session): only the consent page.
    await page.goto(authorizeUrl(gw.url, { client, challenge, method: 'S256', resource }));
    await page.getByRole('button', { name: 'Allow' }).click();
    const code = (await landed).searchParams.get('code')!;
    const tokens = await exchangeCode(gw.url, client, code, verifier, { resource });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

    await page.unrouteAll();
    await page.goto(`${gw.url}/account`);
    const item = page.locator('.application', { hasText: 'Claude (account test)' });
    const itemText = (await item.textContent()) ?? '';
    assert.match(itemText, /MCP servers\s*demo/);
    assert.match(itemText, /claude\.ai/);
    assert.match(itemText, /Connected\s*\d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC/);
    assert.match(itemText, /Last used\s*\d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC/);
    assert.match((await page.textContent('main')) ?? '', /stops working on its own when it expires, at most 1 hour after it was issued/);

    // Another person cannot revoke it, even with a valid form of their own.
    const bobRevokes = await fetch(`${gw.url}/account/applications/revoke`, {
      method: 'POST',
      headers: { cookie: bobSession!.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: bobSession!.token, client: client.client_id }),
    });
    assert.equal(bobRevokes.status, 404);

    await item.getByRole('button', { name: 'Revoke access of Claude (account test)' }).click();
    await page.getByText('Access revoked.').waitFor();
    assert.equal(await page.locator('.application', { hasText: 'Claude (account test)' }).count(), 0);
    const refused = await refresh(gw.url, client, tokens.body.refresh_token!, { resource });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    assert.ok(gw.logs.lines.some((line) => /"event":"grant.revoked"/.test(line) && line.includes('"by":"account page"')));
    // Its consent is forgotten too: connecting again asks the person again.
    await page.goto(authorizeUrl(gw.url, { client, challenge, method: 'S256', resource }));
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
  });

  it('works with the keyboard alone: Tab reaches every control in page order, Enter submits', async () => {
    const { page } = alice;
    await page.goto(`${gw.url}/account`);
    const controls = await page.$$eval('main a[href], main button, main input:not([type=hidden])', (els) =>
      els.map((el) => `${el.tagName.toLowerCase()}|${el.id || el.textContent?.trim().replace(/\s+/g, ' ') || ''}`),
    );
    assert.ok(controls.length >= 6, controls.join('\n'));
    const reached: string[] = [];
    for (let i = 0; i < controls.length + 5 && reached.length < controls.length; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        return el && el.closest('main') ? `${el.tagName.toLowerCase()}|${el.id || el.textContent?.trim().replace(/\s+/g, ' ') || ''}` : '';
      });
      if (focused) reached.push(focused);
    }
    assert.deepEqual(reached, controls, 'every control, in the order of the page');

    await page.goto(`${gw.url}/account`);
    for (let i = 0; i < controls.length; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement?.id === 'secret:github:GITHUB_TOKEN')) break;
    }
    await page.keyboard.type('ghp_typed_with_the_keyboard');
    await page.keyboard.press('Enter');
    await page.getByText('Saved: GitHub token for github.').waitFor();
    assert.equal(await gw.secrets.get(await gw.subOf(ALICE.email), 'github', 'GITHUB_TOKEN'), 'ghp_typed_with_the_keyboard');
    // To the Delete button with Tab, pressed with Enter.
    for (let i = 0; i < controls.length + 2; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement?.textContent?.trim() === 'Delete GitHub token')) break;
    }
    await page.keyboard.press('Enter');
    await page.getByText('Deleted: GitHub token for github.').waitFor();
    assert.equal(await gw.secrets.get(await gw.subOf(ALICE.email), 'github', 'GITHUB_TOKEN'), undefined);
  });

  it('looks right on a desktop and on a phone without JavaScript (screenshots for the README)', async () => {
    const sub = await gw.subOf(ALICE.email);
    await gw.secrets.set(sub, 'github', 'GITHUB_ORG', 'acme');
    const redirect = 'https://chatgpt.com/connector_platform_oauth_redirect';
    const client = await registerClient(gw.url, { redirect_uris: [redirect], token_endpoint_auth_method: 'none', client_name: 'ChatGPT' });
    const { verifier, challenge } = pkcePair();
    const landed = captureRedirect(alice.page, redirect);
    await alice.page.goto(authorizeUrl(gw.url, { client, challenge, method: 'S256', resource: `${gw.url}/mcp/github` }));
    await alice.page.getByRole('button', { name: 'Allow' }).click();
    const tokens = await exchangeCode(gw.url, client, (await landed).searchParams.get('code')!, verifier);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    await alice.page.unrouteAll();

    const state = await alice.context.storageState();
    const desktop = await browser.newContext({ storageState: state, viewport: { width: 1024, height: 1500 } });
    const phone = await browser.newContext({ storageState: state, javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    try {
      const wide = await desktop.newPage();
      await wide.goto(`${gw.url}/account`);
      await wide.getByText('ChatGPT').first().waitFor();
      await saveScreenshot(wide, resolve(SCREENSHOTS, 'account-desktop.png'));
      const small = await phone.newPage();
      await small.goto(`${gw.url}/account#github`);
      await small.getByLabel('GitHub token').fill('not-a-token');
      await small.getByRole('button', { name: 'Save GitHub token' }).click();
      await small.locator('.field-error').waitFor();
      const width = await small.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `no horizontal scrolling on a phone (${width}px)`);
      await saveScreenshot(small, resolve(SCREENSHOTS, 'account-phone.png'));
    } finally {
      await desktop.close();
      await phone.close();
    }
  });

  it('signs out: the session ends, and the page asks for a sign-in again', async () => {
    const { page } = alice;
    await page.goto(`${gw.url}/account`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    await page.getByRole('link', { name: 'Sign in again' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // Cancelling the sign-in comes back to a page that says so, with a way to try again.
    await page.getByRole('button', { name: 'Cancel and return to your account page' }).click();
    await page.getByRole('heading', { name: 'Not signed in' }).waitFor();
    assert.match((await page.textContent('main')) ?? '', /The person cancelled the sign-in/);
    assert.equal(await page.getByRole('link', { name: 'Sign in again' }).count(), 1);
    // A crafted link to that page cannot put its own words on it.
    await page.goto(`${gw.url}/account/signed-in?error=access_denied&error_description=Call+0800+to+restore+your+account&state=x`);
    await page.getByRole('heading', { name: 'Not signed in' }).waitFor();
    assert.doesNotMatch((await page.textContent('main')) ?? '', /0800/);
  });

  it('shows nothing to a person removed from the gateway since they signed in', async () => {
    const json = await testConfigJson();
    const first = await startTestGateway(json);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${first.url}/account`);
      await page.getByLabel('Email').fill(BOB.email);
      await page.getByLabel('Password').fill(BOB.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      await first.close();
      // The same gateway (same storage, address and keys), restarted without Bob's account.
      const users = (json.login as { password: { users: Array<{ email: string }> } }).password.users;
      const login = { password: { users: users.filter((user) => user.email !== BOB.email) } };
      const second = await startTestGateway({ ...json, login });
      try {
        const refused = await page.goto(`${second.url}/account`);
        assert.equal(refused?.status(), 403);
        await page.getByRole('heading', { name: 'Access refused' }).waitFor();
        assert.doesNotMatch((await page.textContent('main')) ?? '', /bob@example\.com|Connected applications/);
      } finally {
        await second.close();
      }
    } finally {
      await context.close();
    }
  });
});
