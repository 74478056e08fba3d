/**
 * Identity providers that keep email and groups out of the ID token (OpenID Connect Core §5.4):
 * real oidc-provider instances in their default, spec-strict configuration, signed in through
 * Chromium like test/upstream-login.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { parseConfig } from '../src/config/load.js';
import { startGateway, type RunningGateway } from '../src/app/server.js';
import { AccountDirectory } from '../src/authz/accounts.js';
import { createLogger } from '../src/log/logger.js';
import { launchChromium } from './helpers/chromium.js';
import { startFakeOidcProvider, type FakeUser } from './helpers/fake-identity-providers.js';
import { LogCapture, testConfigJson } from './helpers/gateway.js';
import { decodeJwt, exchangeCode } from './helpers/oauth-client.js';
import { freePort } from './helpers/ports.js';
import { beginUpstreamSignIn, signInAtIdp } from './helpers/upstream-sign-in.js';

const users: Record<string, FakeUser> = {
  dana: { email: 'Dana@Corp.example', email_verified: true, name: 'Dana', groups: ['mcp-users'] },
};
type FakeIdp = Awaited<ReturnType<typeof startFakeOidcProvider>>;

describe('upstream login: claims that only UserInfo carries', () => {
  let browser: Browser;
  let strict: FakeIdp;
  let liar: FakeIdp;
  let inline: FakeIdp;
  let running: RunningGateway;
  let base = '';
  const logs = new LogCapture();

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const client = (id: string) => [
      { client_id: `gw-${id}`, client_secret: `${id}-secret`, redirect_uris: [`${base}/login/${id}/callback`] },
    ];
    strict = await startFakeOidcProvider(users, client('strict'), { claimsOnlyInUserInfo: true });
    liar = await startFakeOidcProvider(users, client('liar'), { claimsOnlyInUserInfo: true, userInfoSub: 'mallory' });
    inline = await startFakeOidcProvider(users, client('inline'), { userInfoSub: 'mallory' });
    const provider = (id: string, label: string, idp: FakeIdp) => ({
      id,
      label,
      issuer: idp.issuer,
      clientId: `gw-${id}`,
      clientSecret: `${id}-secret`,
      groupsClaim: 'groups',
    });
    const defaults = await testConfigJson();
    const configJson = {
      ...defaults,
      publicUrl: base,
      listen: { host: '127.0.0.1', port },
      login: {
        ...(defaults.login as object),
        oidc: [provider('strict', 'Strict IdP', strict), provider('liar', 'Liar IdP', liar), provider('inline', 'Inline IdP', inline)],
      },
      // Only the group admits: it, like the address, reaches the gateway through UserInfo alone.
      access: { allowGroups: ['strict:mcp-users', 'liar:mcp-users', 'inline:mcp-users'] },
    };
    browser = await launchChromium();
    running = await startGateway(parseConfig(configJson, 'test'), createLogger({ level: 'debug', destination: logs }));
  });
  after(async () => {
    await browser?.close();
    await running?.close();
    await Promise.all([strict?.close(), liar?.close(), inline?.close()]);
  });

  /** A connector's authorization in a fresh browser, signed in as dana at the given provider. */
  async function signInThrough(label: string) {
    const flow = await beginUpstreamSignIn(browser, base, label);
    await signInAtIdp(flow.page, 'dana');
    return flow;
  }

  async function expectAdmitted(flow: Awaited<ReturnType<typeof signInThrough>>): Promise<void> {
    const allow = flow.page.getByRole('button', { name: 'Allow' });
    await allow.waitFor({ timeout: 10_000 }).catch(async () => assert.fail(`no consent page: ${await flow.page.textContent('main')}`));
    await allow.click();
    const code = (await flow.landed()).searchParams.get('code');
    assert.ok(code);
    const tokens = await exchangeCode(base, flow.client, code, flow.verifier);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const account = await new AccountDirectory(running.store).findBySub(decodeJwt(tokens.body.access_token!).payload.sub as string);
    assert.equal(account?.email, 'dana@corp.example');
    assert.equal(account?.emailVerified, true);
    assert.deepEqual(account?.lastLogin?.groups, ['mcp-users']);
    await flow.context.close();
  }

  it('admits a person whose email and groups the provider serves only from UserInfo', async () => {
    const before = strict.userInfoCalls;
    await expectAdmitted(await signInThrough('Strict IdP'));
    assert.equal(strict.userInfoCalls, before + 1, 'UserInfo was asked once');
  });

  it('refuses a UserInfo answer whose sub is not the ID token’s', async () => {
    const flow = await signInThrough('Liar IdP');
    await flow.page.getByRole('heading').first().waitFor();
    assert.match((await flow.page.textContent('main')) ?? '', /Liar IdP sign-in failed[\s\S]*could not be verified/);
    assert.equal(liar.userInfoCalls, 1);
    const failures = logs.lines.filter((line) => line.includes('login.upstream.failed') && line.includes('liar'));
    assert.ok(
      failures.some((line) => /\bsub\b/.test(line)),
      `the log names the subject mismatch: ${failures.join('\n')}`,
    );
    await flow.context.close();
  });

  it('does not ask UserInfo when the ID token already carries every claim', async () => {
    await expectAdmitted(await signInThrough('Inline IdP'));
    assert.equal(inline.userInfoCalls, 0, 'its UserInfo (which would answer about someone else) was never asked');
  });
});
