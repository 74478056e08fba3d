import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { packageRoot } from '../src/paths.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { captureRedirect, launchChromium, saveScreenshot, signInAndApprove } from './helpers/chromium.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, refresh, registerClient } from './helpers/oauth-client.js';

const SCREENSHOTS = resolve(packageRoot, 'test-results', 'screenshots');

const connectors = [
  { name: 'ChatGPT (legacy redirect)', redirect: 'https://chatgpt.com/connector_platform_oauth_redirect', auth: 'none' },
  { name: 'ChatGPT (per-connector redirect)', redirect: 'https://chatgpt.com/connector/oauth/c_8f3a2b1d', auth: 'none' },
  { name: 'Claude.ai (confidential, client_secret_post)', redirect: 'https://claude.ai/api/mcp/auth_callback', auth: 'client_secret_post' },
  { name: 'MCP Inspector (localhost)', redirect: 'http://localhost:6274/oauth/callback', auth: 'none' },
];

describe('full flow in headless Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [gw, browser] = await Promise.all([startTestGateway(), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  for (const connector of connectors) {
    it(`${connector.name}: DCR → PKCE → login → consent → code → token → refresh`, async () => {
      const client = await registerClient(gw.url, {
        redirect_uris: [connector.redirect],
        token_endpoint_auth_method: connector.auth,
        client_name: connector.name,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      });
      const { verifier, challenge } = pkcePair();
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        const landed = captureRedirect(page, connector.redirect);
        await page.goto(authorizeUrl(gw.url, { client, challenge, method: 'S256', state: 'st', resource: `${gw.url}/mcp/demo` }));
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        if (connector.auth === 'client_secret_post') await saveScreenshot(page, resolve(SCREENSHOTS, 'login.png'));
        await page.getByLabel('Email').fill(ALICE.email);
        await page.getByLabel('Password').fill(ALICE.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
        const consentText = await page.textContent('main');
        assert.match(consentText ?? '', new RegExp(connector.name.replace(/[()]/g, '.')));
        assert.match(consentText ?? '', new RegExp(new URL(connector.redirect).host.replace(/\./g, '\\.')));
        if (connector.redirect.startsWith('http://localhost')) {
          assert.match(consentText ?? '', /runs on your own computer/);
          await saveScreenshot(page, resolve(SCREENSHOTS, 'consent-localhost.png'));
        }
        await page.getByRole('button', { name: 'Allow' }).click();
        const url = await landed;
        assert.equal(url.searchParams.get('state'), 'st');
        assert.equal(url.searchParams.get('iss'), gw.url);
        const tokens = await exchangeCode(gw.url, client, url.searchParams.get('code')!, verifier, { resource: `${gw.url}/mcp/demo` });
        assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
        assert.equal(decodeJwt(tokens.body.access_token!).payload.aud, `${gw.url}/mcp/demo`);
        const refreshed = await refresh(gw.url, client, tokens.body.refresh_token!);
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      } finally {
        await context.close();
      }
    });
  }

  it('the pages work on a phone-sized screen and without JavaScript', async () => {
    const client = await registerClient(gw.url, {
      redirect_uris: [connectors[0]!.redirect],
      token_endpoint_auth_method: 'none',
      client_name: 'Phone client',
    });
    const { challenge } = pkcePair();
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    try {
      const landed = captureRedirect(page, connectors[0]!.redirect);
      await page.goto(authorizeUrl(gw.url, { client, challenge, method: 'S256' }));
      await page.getByLabel('Email').waitFor();
      // Evaluating works with the page's own JavaScript off; a failure here is a failure of the test.
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `no horizontal scrolling (${width}px)`);
      await saveScreenshot(page, resolve(SCREENSHOTS, 'login-phone.png'));
      await signInAndApprove(page, ALICE);
      assert.ok((await landed).searchParams.get('code'));
    } finally {
      await context.close();
    }
  });
});
