import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { parseConfig } from '../src/config/load.js';
import { startGateway, type RunningGateway } from '../src/app/server.js';
import { AccountDirectory, type LoginFacts } from '../src/authz/accounts.js';
import { createLogger } from '../src/log/logger.js';
import { packageRoot } from '../src/paths.js';
import { launchChromium, saveScreenshot } from './helpers/chromium.js';
import { startFakeGithub, startFakeOidcProvider, type FakeGithubUser } from './helpers/fake-identity-providers.js';
import { ALICE, LogCapture, testConfigJson } from './helpers/gateway.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, refresh, registerClient } from './helpers/oauth-client.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { freePort } from './helpers/ports.js';
import { sleep } from './helpers/wait.js';
import { beginUpstreamSignIn, CLAUDE, signInAtIdp } from './helpers/upstream-sign-in.js';

const SCREENSHOTS = resolve(packageRoot, 'test-results', 'screenshots');

const googleUsers = {
  ann: { email: 'ann@acme.com', email_verified: true, name: 'Ann', hd: 'acme.com' },
  consumer: { email: 'con@acme.com', email_verified: true, name: 'Consumer account, no hd' },
  unverified: { email: 'eve@acme.com', email_verified: false, hd: 'acme.com' },
  grouped: { email: 'gus@elsewhere.org', email_verified: true, groups: ['mcp-users', 'staff'] },
  ungrouped: { email: 'una@elsewhere.org', email_verified: true, groups: ['staff'] },
  carol: { email: 'carol@outside.org', email_verified: true },
  alice: { email: ALICE.email, email_verified: true },
};

const inAcme: FakeGithubUser = {
  login: 'octo',
  name: 'Octo',
  emails: [{ email: 'octo@gh.example', primary: true, verified: true }],
  orgs: ['acme'],
  teams: [{ org: 'acme', slug: 'platform' }],
};
const notInAcme: FakeGithubUser = {
  login: 'stranger',
  emails: [{ email: 'stranger@gh.example', primary: true, verified: true }],
  orgs: ['other'],
  teams: [],
};
const noVerifiedEmail: FakeGithubUser = {
  login: 'noemail',
  emails: [{ email: 'ne@gh.example', primary: true, verified: false }],
  orgs: ['acme'],
  teams: [],
};

describe('upstream login: Google, GitHub and OIDC providers', () => {
  let browser: Browser;
  let idp: Awaited<ReturnType<typeof startFakeOidcProvider>>;
  let github: Awaited<ReturnType<typeof startFakeGithub>>;
  let running: RunningGateway;
  let configJson: Record<string, unknown>;
  let base = '';
  const logs = new LogCapture();

  async function start(json: Record<string, unknown>): Promise<void> {
    running = await startGateway(parseConfig(json, 'test'), createLogger({ level: 'debug', destination: logs }));
  }

  async function restartWith(json: Record<string, unknown>): Promise<void> {
    await running.close();
    // Give this process's fetch pool a moment to notice its keep-alive sockets to the old server closed
    // (nothing shows it but a failed request).
    await sleep(200);
    await start(json);
  }

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startFakeOidcProvider(googleUsers, [
      { client_id: 'gw-google', client_secret: 'google-secret', redirect_uris: [`${base}/login/google/callback`] },
      { client_id: 'gw-okta', client_secret: 'okta-secret', redirect_uris: [`${base}/login/okta/callback`] },
    ]);
    github = await startFakeGithub('gh-client', 'gh-secret');
    const defaults = await testConfigJson();
    configJson = {
      ...defaults,
      publicUrl: base,
      listen: { host: '127.0.0.1', port },
      login: {
        ...(defaults.login as object),
        google: { clientId: 'gw-google', clientSecret: 'google-secret', issuer: idp.issuer },
        github: { clientId: 'gh-client', clientSecret: 'gh-secret', webUrl: github.url, apiUrl: github.apiUrl },
        oidc: [{ id: 'okta', label: 'Okta', issuer: idp.issuer, clientId: 'gw-okta', clientSecret: 'okta-secret', groupsClaim: 'groups' }],
      },
      access: {
        allowDomains: ['acme.com'],
        allowGroups: ['mcp-users'],
        allowGithubOrgs: ['acme/platform'],
        allowEmails: ['carol@outside.org'],
      },
    };
    [browser] = await Promise.all([launchChromium(), start(configJson)]);
  });
  after(async () => {
    await browser?.close();
    await running?.close();
    await github?.close();
    await idp?.close();
  });

  const beginAt = (label: string) => beginUpstreamSignIn(browser, base, label);

  async function approveAndGetTokens(flow: Awaited<ReturnType<typeof beginAt>>) {
    await flow.page.getByRole('button', { name: 'Allow' }).click();
    const landed = await flow.landed();
    assert.ok(landed.searchParams.get('code'), landed.href);
    const tokens = await exchangeCode(base, flow.client, landed.searchParams.get('code')!, flow.verifier);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    await flow.context.close();
    return tokens.body as { access_token: string; refresh_token: string };
  }

  /**
   * "Gets in" means: the token opens an MCP session, and it names the account of the person who
   * signed in at the provider, with what the provider said about them (checked again at refresh).
   */
  async function expectSignedInAs(tokens: { access_token: string }, email: string, facts: Partial<LoginFacts>): Promise<void> {
    const sub = decodeJwt(tokens.access_token).payload.sub as string;
    const account = await new AccountDirectory(running.store).findBySub(sub);
    assert.equal(account?.email, email);
    for (const [fact, value] of Object.entries(facts)) assert.deepEqual(account?.lastLogin?.[fact as keyof LoginFacts], value, fact);
    const mcp = new McpTestClient(`${base}/mcp/demo`, tokens.access_token);
    await mcp.initialize();
    assert.ok(mcp.sessionId, 'the token opens an MCP session');
    await mcp.close();
  }

  async function expectRefusal(flow: Awaited<ReturnType<typeof beginAt>>, heading: RegExp, text: RegExp): Promise<void> {
    await flow.page.getByRole('heading', { name: heading }).waitFor();
    const main = (await flow.page.textContent('main')) ?? '';
    assert.match(main, text);
    const requestId = /Request id: (\S+)/.exec(main)?.[1]?.replace(/\(.*$/, '');
    assert.ok(requestId, 'the page shows a request id');
    assert.ok(
      logs.lines.some((l) => l.includes(requestId)),
      'the request id is in the log',
    );
    await flow.context.close();
  }

  it('offers every method on one page, with labels a screen reader can use', async () => {
    const flow = await beginAt('Google').catch(() => undefined);
    assert.ok(flow);
    await flow.context.close();
    const client = await registerClient(base, { redirect_uris: [CLAUDE], token_endpoint_auth_method: 'none', client_name: 'Claude' });
    const page = await browser.newPage();
    await page.goto(authorizeUrl(base, { client, challenge: pkcePair().challenge, method: 'S256' }));
    for (const label of ['Google', 'GitHub', 'Okta'])
      assert.ok(await page.getByRole('link', { name: `Continue with ${label}` }).isVisible());
    assert.ok(await page.getByLabel('Email').isVisible());
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent),
      'Continue with Google',
      'keyboard focus starts at the first method',
    );
    await saveScreenshot(page, resolve(SCREENSHOTS, 'login-chooser.png'));
    await page.close();
  });

  it('Google: a Workspace account of an allowed domain gets in, with a stable subject across logins', async () => {
    const first = await beginAt('Google');
    await signInAtIdp(first.page, 'ann');
    const tokens = await approveAndGetTokens(first);
    const second = await beginAt('Google');
    await signInAtIdp(second.page, 'ann');
    const secondTokens = await approveAndGetTokens(second);
    const sub = decodeJwt(tokens.access_token).payload.sub;
    assert.ok(sub);
    assert.equal(decodeJwt(secondTokens.access_token).payload.sub, sub);
  });

  it('Google: the domain rule needs the Workspace hd claim, not just the address', async () => {
    const flow = await beginAt('Google');
    await signInAtIdp(flow.page, 'consumer');
    await saveScreenshot(flow.page, resolve(SCREENSHOTS, 'refused.png'));
    await expectRefusal(flow, /not allowed here/, /con@acme\.com/);
  });

  it('refuses an unverified email', async () => {
    const flow = await beginAt('Google');
    await signInAtIdp(flow.page, 'unverified');
    await expectRefusal(flow, /not allowed here/, /not verified/);
  });

  it('OIDC: a member of an allowed group gets in; a non-member does not', async () => {
    const ok = await beginAt('Okta');
    await signInAtIdp(ok.page, 'grouped');
    await expectSignedInAs(await approveAndGetTokens(ok), 'gus@elsewhere.org', { provider: 'okta', groups: ['mcp-users', 'staff'] });
    const refused = await beginAt('Okta');
    await signInAtIdp(refused.page, 'ungrouped');
    await expectRefusal(refused, /not allowed here/, /una@elsewhere\.org/);
  });

  it('GitHub: a member of the allowed team gets in; outsiders and unverified emails do not', async () => {
    github.signInAs(inAcme);
    await expectSignedInAs(await approveAndGetTokens(await beginAt('GitHub')), 'octo@gh.example', {
      provider: 'github',
      githubOrgs: ['acme', 'acme/platform'],
    });
    github.signInAs(notInAcme);
    await expectRefusal(await beginAt('GitHub'), /not allowed here/, /stranger@gh\.example/);
    github.signInAs(noVerifiedEmail);
    await expectRefusal(await beginAt('GitHub'), /Sign-in refused/, /no verified primary email/);
  });

  it('returns access_denied to the client when the person cancels at the provider', async () => {
    const flow = await beginAt('Google');
    await flow.page.getByRole('link', { name: '[ Cancel ]' }).click();
    const landed = await flow.landed();
    assert.equal(landed.searchParams.get('error'), 'access_denied');
    assert.equal(landed.searchParams.get('state'), 'st');
    assert.equal(landed.searchParams.get('iss'), base, 'RFC 9207: the error names its issuer too');
    await flow.context.close();
  });

  it('shows a clear page when the provider answers with an error', async () => {
    const client = await registerClient(base, { redirect_uris: [CLAUDE], token_endpoint_auth_method: 'none' });
    const context = await browser.newContext();
    const page = await context.newPage();
    // The provider answers straight away with an error instead of a login page.
    // Playwright's routes do not see redirected requests, so watch for the provider's URL instead.
    const askedProvider = page.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth?`), { timeout: 10_000 });
    await page.goto(authorizeUrl(base, { client, challenge: pkcePair().challenge, method: 'S256' }));
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    const asked = new URL((await askedProvider).url());
    const back = new URL(asked.searchParams.get('redirect_uri')!);
    back.searchParams.set('error', 'temporarily_unavailable');
    back.searchParams.set('error_description', 'try later');
    back.searchParams.set('state', asked.searchParams.get('state')!);
    await page.goto(back.href);
    await expectRefusal({ page, context } as never, /could not sign you in/, /try later/);
  });

  it('refuses a tampered state, a tampered nonce and a replayed callback', async () => {
    // State: the callback comes back with a state the gateway never issued.
    const tampered = await beginAt('Google');
    const calledBack = tampered.page.waitForRequest((r) => r.url().startsWith(`${base}/login/google/callback?`), { timeout: 10_000 });
    await signInAtIdp(tampered.page, 'ann');
    const callbackUrl = new URL((await calledBack).url());
    callbackUrl.searchParams.set('state', `x${callbackUrl.searchParams.get('state')}`);
    await tampered.page.goto(callbackUrl.href);
    await expectRefusal(tampered, /expired/, /already used, or it belongs to a sign-in that expired/);

    // Nonce: the ID token comes back bound to another nonce.
    const nonce = await browser.newContext();
    const noncePage = await nonce.newPage();
    const askedProvider = noncePage.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth?`), { timeout: 10_000 });
    const client = await registerClient(base, { redirect_uris: [CLAUDE], token_endpoint_auth_method: 'none' });
    await noncePage.goto(authorizeUrl(base, { client, challenge: pkcePair().challenge, method: 'S256' }));
    await noncePage.getByRole('link', { name: 'Continue with Google' }).click();
    const withOtherNonce = new URL((await askedProvider).url());
    withOtherNonce.searchParams.set('nonce', 'attacker-chosen-nonce');
    await noncePage.goto(withOtherNonce.href);
    await signInAtIdp(noncePage, 'ann');
    await expectRefusal({ page: noncePage, context: nonce } as never, /sign-in failed/, /could not be verified/);
    assert.ok(
      logs.lines.some((l) => l.includes('login.upstream.failed') && l.includes('nonce')),
      `the log names the nonce mismatch: ${logs.lines.filter((l) => l.includes('login.upstream.failed')).join('\n')}`,
    );

    // Replay: the same callback URL a second time.
    const replay = await beginAt('Google');
    let callback = '';
    replay.page.on('request', (request) => {
      if (request.url().includes('/login/google/callback')) callback ||= request.url();
    });
    await signInAtIdp(replay.page, 'ann');
    await replay.page.getByRole('button', { name: 'Allow' }).waitFor();
    await replay.page.goto(callback);
    await expectRefusal(replay, /expired/, /already used/);
  });

  it('asks a group member to sign in again once the provider last confirmed the membership too long ago', async () => {
    const flow = await beginAt('Okta');
    await signInAtIdp(flow.page, 'grouped');
    const tokens = await approveAndGetTokens(flow);
    const client = {
      client_id: decodeJwt(tokens.access_token).payload.client_id as string,
      redirect_uris: [CLAUDE],
      token_endpoint_auth_method: 'none',
    };
    await restartWith({ ...configJson, access: { ...(configJson.access as object), signInAgainAfter: 1 } });
    // The 1 s must pass on the clock: only the refresh shows it, and it ends the grant.
    await sleep(1200);
    const refreshed = await refresh(base, client, tokens.refresh_token);
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    await restartWith(configJson);
  });

  it('locks out a person removed from the allow-list at their next refresh', async () => {
    const flow = await beginAt('Google');
    await signInAtIdp(flow.page, 'carol');
    const tokens = await approveAndGetTokens(flow);
    await restartWith({ ...configJson, access: { ...(configJson.access as object), allowEmails: [] } });
    const refreshed = await refresh(
      base,
      {
        client_id: decodeJwt(tokens.access_token).payload.client_id as string,
        redirect_uris: [CLAUDE],
        token_endpoint_auth_method: 'none',
      },
      tokens.refresh_token,
    );
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    await restartWith(configJson);
  });
});
