/* eslint-disable max-lines -- one gateway walked through every authorization-server rule in order */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, BOB, demoServerCommand, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser, interactionAction } from './helpers/http-browser.js';
import {
  authorizeUrl,
  decodeJwt,
  exchangeCode,
  pkcePair,
  refresh,
  register,
  registerClient,
  type AuthorizeParams,
  type RegisteredClient,
} from './helpers/oauth-client.js';
import { sleep } from './helpers/wait.js';

const CHATGPT = 'https://chatgpt.com/connector_platform_oauth_redirect';

describe('authorization server', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ tokens: { refreshGracePeriod: '3s' } });
  });
  after(async () => {
    await gw.close();
  });

  const publicClient = (redirect = CHATGPT) =>
    registerClient(gw.url, { redirect_uris: [redirect], token_endpoint_auth_method: 'none', client_name: 'Test connector' });

  async function authorize(client: RegisteredClient, params: Partial<AuthorizeParams> = {}, user = ALICE) {
    const { verifier, challenge } = pkcePair();
    const landed = await authorizeWithPassword(
      new HttpBrowser(gw.url),
      authorizeUrl(gw.url, { client, challenge, method: 'S256', ...params }),
      user,
    );
    return { landed, verifier };
  }

  async function tokensFor(client: RegisteredClient, params: Partial<AuthorizeParams> = {}, user = ALICE) {
    const { landed, verifier } = await authorize(client, params, user);
    const code = landed.searchParams.get('code');
    assert.ok(code, `no code: ${landed}`);
    const result = await exchangeCode(gw.url, client, code, verifier);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    return result.body as { access_token: string; refresh_token: string };
  }

  /** Where the gateway sends the browser straight away (an error redirect or the login page). */
  async function firstHop(url: string): Promise<URL> {
    const response = await fetch(url, { redirect: 'manual' });
    return new URL(response.headers.get('location') ?? 'about:blank', gw.url);
  }

  describe('metadata', () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      it(`serves ${path} with the contract's fields and CORS`, async () => {
        const response = await fetch(`${gw.url}${path}`, { headers: { origin: 'http://localhost:6274' } });
        assert.equal(response.status, 200);
        assert.ok(['*', 'http://localhost:6274'].includes(response.headers.get('access-control-allow-origin') ?? ''));
        const metadata = (await response.json()) as Record<string, unknown>;
        assert.equal(metadata.issuer, gw.url);
        assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
        assert.equal(metadata.registration_endpoint, `${gw.url}/register`);
        assert.equal(metadata.authorization_endpoint, `${gw.url}/authorize`);
        assert.equal(metadata.token_endpoint, `${gw.url}/token`);
        assert.equal(metadata.jwks_uri, `${gw.url}/jwks`);
        assert.equal(metadata.revocation_endpoint, `${gw.url}/revoke`);
        assert.equal(metadata.client_id_metadata_document_supported, true);
        assert.equal(metadata.authorization_response_iss_parameter_supported, true);
        assert.ok((metadata.scopes_supported as string[]).includes('mcp'));
        assert.ok((metadata.scopes_supported as string[]).includes('offline_access'), 'the authorization server lists offline_access');
      });
    }

    it('builds every URL from publicUrl, whatever Host the request carries', async () => {
      const response = await fetch(`${gw.url}/.well-known/openid-configuration`, { headers: { host: 'attacker.example' } });
      const metadata = (await response.json()) as Record<string, string>;
      assert.equal(metadata.token_endpoint, `${gw.url}/token`);
    });

    it('answers CORS preflights for /register and /token, and serves /jwks cross-origin', async () => {
      for (const path of ['/register', '/token']) {
        const response = await fetch(`${gw.url}${path}`, {
          method: 'OPTIONS',
          headers: {
            origin: 'http://localhost:6274',
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type',
          },
        });
        assert.ok(response.status === 204 || response.status === 200, `${path}: ${response.status}`);
        assert.ok(response.headers.get('access-control-allow-origin'), path);
      }
      const jwks = await fetch(`${gw.url}/jwks`, { headers: { origin: 'http://localhost:6274' } });
      assert.ok(jwks.headers.get('access-control-allow-origin'));
      const { keys } = (await jwks.json()) as { keys: Record<string, unknown>[] };
      assert.ok(keys.length >= 1);
      for (const key of keys) assert.equal(key.d, undefined, 'no private key material');
    });
  });

  describe('dynamic client registration', () => {
    for (const method of ['none', 'client_secret_post', 'client_secret_basic']) {
      it(`registers a client with token_endpoint_auth_method ${method} and completes the flow with it`, async () => {
        const client = await registerClient(gw.url, {
          redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
          token_endpoint_auth_method: method,
          client_name: `c-${method}`,
        });
        assert.equal(client.token_endpoint_auth_method, method);
        assert.equal(Boolean(client.client_secret), method !== 'none');
        const tokens = await tokensFor(client);
        assert.ok(tokens.access_token && tokens.refresh_token);
      });
    }

    it('answers CORS on the registration response itself', async () => {
      const response = await fetch(`${gw.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://localhost:6274' },
        body: JSON.stringify({ redirect_uris: ['http://localhost:6274/oauth/callback'], token_endpoint_auth_method: 'none' }),
      });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('access-control-allow-origin'), '*');
    });

    const hostile: Array<[string, unknown, string]> = [
      ['plain http to a public host', ['http://evil.example/cb'], 'invalid_redirect_uri'],
      ['a fragment', ['https://app.example/cb#frag'], 'invalid_redirect_uri'],
      ['javascript:', ['javascript:alert(1)'], 'invalid_redirect_uri'],
      ['data:', ['data:text/html,hi'], 'invalid_redirect_uri'],
      ['a custom scheme', ['myapp://callback'], 'invalid_redirect_uri'],
      ['credentials in the URL', ['https://user:pass@app.example/cb'], 'invalid_redirect_uri'],
      ['a relative URL', ['/cb'], 'invalid_redirect_uri'],
      ['a non-array', 'https://app.example/cb', 'invalid_redirect_uri'],
    ];
    for (const [what, uris, error] of hostile) {
      it(`refuses redirect URIs with ${what}`, async () => {
        const { status, body } = await register(gw.url, { redirect_uris: uris, token_endpoint_auth_method: 'none' });
        assert.equal(status, 400, JSON.stringify(body));
        assert.ok(body.error === error || body.error === 'invalid_client_metadata', JSON.stringify(body));
      });
    }

    it('refuses malformed JSON and nonsense metadata with 400, never 500', async () => {
      const malformed = await fetch(`${gw.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"redirect_uris": [',
      });
      assert.equal(malformed.status, 400);
      for (const body of [
        { redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'magic' },
        { redirect_uris: ['https://a.example/cb'], grant_types: 'x' },
        [],
      ]) {
        const response = await register(gw.url, body as never);
        assert.equal(response.status, 400, JSON.stringify(response.body));
      }
    });

    it('accepts loopback http redirects (Inspector) and https ones', async () => {
      for (const uri of [
        'http://localhost:6274/oauth/callback',
        'http://127.0.0.1:6276/oauth/callback',
        'http://[::1]:8080/cb',
        'https://chatgpt.com/connector/oauth/abc123',
      ]) {
        const { status, body } = await register(gw.url, { redirect_uris: [uri], token_endpoint_auth_method: 'none' });
        assert.equal(status, 201, `${uri}: ${JSON.stringify(body)}`);
      }
    });
  });

  describe('authorization requests', () => {
    it('requires PKCE: a missing challenge is refused', async () => {
      const client = await publicClient();
      const hop = await firstHop(authorizeUrl(gw.url, { client }));
      assert.equal(hop.origin + hop.pathname, CHATGPT);
      assert.equal(hop.searchParams.get('error'), 'invalid_request');
    });

    it('requires PKCE S256: plain is refused', async () => {
      const client = await publicClient();
      const hop = await firstHop(authorizeUrl(gw.url, { client, challenge: 'a'.repeat(43), method: 'plain' }));
      assert.equal(hop.searchParams.get('error'), 'invalid_request');
    });

    it('requires PKCE for confidential clients too', async () => {
      const client = await registerClient(gw.url, { redirect_uris: [CHATGPT], token_endpoint_auth_method: 'client_secret_post' });
      const hop = await firstHop(authorizeUrl(gw.url, { client }));
      assert.equal(hop.searchParams.get('error'), 'invalid_request');
    });

    it('rejects a wrong code_verifier at the token endpoint', async () => {
      const client = await publicClient();
      const { landed } = await authorize(client);
      const result = await exchangeCode(gw.url, client, landed.searchParams.get('code')!, pkcePair().verifier);
      assert.equal(result.status, 400);
      assert.equal(result.body.error, 'invalid_grant');
    });

    it('never redirects to an unregistered redirect URI', async () => {
      const client = await publicClient();
      const { challenge } = pkcePair();
      const response = await fetch(authorizeUrl(gw.url, { client, challenge, method: 'S256', redirectUri: 'https://evil.example/cb' }), {
        redirect: 'manual',
      });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('location'), null);
      const page = await response.text();
      assert.match(page, /redirect_uri/);
      assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    });

    it('accepts a short state value and returns it with iss', async () => {
      const client = await publicClient();
      const { landed } = await authorize(client, { state: 'a' });
      assert.equal(landed.searchParams.get('state'), 'a');
      assert.equal(landed.searchParams.get('iss'), gw.url);
    });

    it('names itself with iss (RFC 9207) on error redirects too', async () => {
      const client = await publicClient();
      const { challenge } = pkcePair();
      const errors = [
        await firstHop(authorizeUrl(gw.url, { client, state: 'e1' })),
        await firstHop(authorizeUrl(gw.url, { client, challenge, method: 'S256', state: 'e2', resource: `${gw.url}/mcp/nope` })),
      ];
      for (const hop of errors) {
        assert.ok(hop.searchParams.get('error'), hop.href);
        assert.equal(hop.searchParams.get('iss'), gw.url, hop.href);
      }
      const denied = await authorizeWithPassword(
        new HttpBrowser(gw.url),
        authorizeUrl(gw.url, { client, challenge, method: 'S256', state: 'e3' }),
        ALICE,
        'deny',
      );
      assert.equal(denied.searchParams.get('error'), 'access_denied');
      assert.equal(denied.searchParams.get('iss'), gw.url, 'after the login and consent pages as well');
    });

    it('grants the MCP scope when the client asks only for unknown scopes', async () => {
      const client = await publicClient();
      const tokens = await tokensFor(client, { scope: 'claudeai something-else' });
      assert.match(String(decodeJwt(tokens.access_token).payload.scope), /\bmcp\b/);
    });

    it('normalises the resource indicator: trailing slash and scheme/host case', async () => {
      const client = await publicClient();
      const upper = gw.url.replace('http://127.0.0.1', 'HTTP://127.0.0.1');
      const tokens = await tokensFor(client, { resource: `${upper}/mcp/demo/` });
      assert.equal(decodeJwt(tokens.access_token).payload.aud, `${gw.url}/mcp/demo`);
    });

    it('refuses an unknown resource with invalid_target', async () => {
      const client = await publicClient();
      const { challenge } = pkcePair();
      for (const resource of [`${gw.url}/mcp/nope`, 'https://other.example/mcp/demo', `${gw.url}/mcp/demo?x=1`]) {
        const hop = await firstHop(authorizeUrl(gw.url, { client, challenge, method: 'S256', resource }));
        assert.equal(hop.searchParams.get('error'), 'invalid_target', resource);
      }
    });
  });

  describe('refresh tokens', () => {
    it('rotate on every use; within the grace period a repeat gets the same answer, never a fork', async () => {
      const client = await publicClient();
      const first = await tokensFor(client);
      const second = await refresh(gw.url, client, first.refresh_token);
      assert.equal(second.status, 200);
      assert.notEqual(second.body.refresh_token, first.refresh_token);
      const third = await refresh(gw.url, client, second.body.refresh_token!);
      assert.equal(third.status, 200);
      // first.refresh_token is two rotations old, but within the period: it repeats its own answer.
      const repeat = await refresh(gw.url, client, first.refresh_token);
      assert.equal(repeat.body.refresh_token, second.body.refresh_token);
      assert.equal(repeat.body.access_token, second.body.access_token);
      assert.equal((await refresh(gw.url, client, third.body.refresh_token!)).status, 200, 'the grant is intact');
    });

    it('let the same client retry its just-rotated token within the grace period, and get the same successor', async () => {
      const client = await publicClient();
      const first = await tokensFor(client);
      const [a, b] = await Promise.all([refresh(gw.url, client, first.refresh_token), refresh(gw.url, client, first.refresh_token)]);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(b.body.refresh_token, a.body.refresh_token, JSON.stringify(b.body));
      const retry = await refresh(gw.url, client, first.refresh_token);
      assert.equal(retry.body.refresh_token, a.body.refresh_token, JSON.stringify(retry.body));
      assert.equal((await refresh(gw.url, client, a.body.refresh_token!)).status, 200, 'the grant is intact');
    });

    it('refuse another client presenting the token, without revoking the owner', async () => {
      const owner = await publicClient();
      const thief = await publicClient();
      const first = await tokensFor(owner);
      const stolen = await refresh(gw.url, thief, first.refresh_token);
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error, 'invalid_grant');
      assert.equal((await refresh(gw.url, owner, first.refresh_token)).status, 200);
    });

    it('revoke the grant when the just-rotated token comes back after the grace period', async () => {
      const client = await publicClient();
      const first = await tokensFor(client);
      const second = await refresh(gw.url, client, first.refresh_token);
      assert.equal(second.status, 200);
      // The grace period must pass on the clock (a refresh within it would be the retry it allows).
      await sleep(4200);
      const late = await refresh(gw.url, client, first.refresh_token);
      assert.equal(late.status, 400);
      assert.equal(late.body.error, 'invalid_grant');
      assert.equal((await refresh(gw.url, client, second.body.refresh_token!)).status, 400, 'grant revoked');
    });

    it('keep the audience of the original authorization', async () => {
      const client = await publicClient();
      const first = await tokensFor(client);
      const next = await refresh(gw.url, client, first.refresh_token);
      assert.equal(decodeJwt(next.body.access_token!).payload.aud, `${gw.url}/mcp/demo`);
    });

    it('can be revoked at /revoke', async () => {
      const client = await publicClient();
      const first = await tokensFor(client);
      const response = await fetch(`${gw.url}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: first.refresh_token, client_id: client.client_id }),
      });
      assert.equal(response.status, 200);
      assert.equal((await refresh(gw.url, client, first.refresh_token)).status, 400);
    });
  });

  describe('login and consent pages', () => {
    it('shows the client, the redirect host and the server, warns about localhost, and sets safe headers', async () => {
      const client = await registerClient(gw.url, {
        redirect_uris: ['http://localhost:6274/oauth/callback'],
        token_endpoint_auth_method: 'none',
        client_name: 'MCP Inspector <b>',
      });
      const browser = new HttpBrowser(gw.url);
      const { challenge } = pkcePair();
      const loginStep = await browser.follow(authorizeUrl(gw.url, { client, challenge, method: 'S256' }));
      assert.match(loginStep.page!, /MCP Inspector &lt;b&gt;/, 'client name is escaped');
      const csp = loginStep.response!.headers.get('content-security-policy') ?? '';
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(loginStep.response!.headers.get('x-frame-options'), 'DENY');
      const consent = await browser.submit(loginStep.url, loginStep.page!, interactionAction(loginStep.page!, 'login'), ALICE);
      assert.match(consent.page!, /Allow access\?/);
      assert.match(consent.page!, /localhost:6274/);
      assert.match(consent.page!, /runs on your own computer/);
      assert.match(consent.page!, new RegExp(`${gw.url}/mcp/demo`));
      assert.match(consent.page!, /alice@example\.com/);
    });

    it('sets HttpOnly, SameSite=Lax cookies', async () => {
      const client = await publicClient();
      const { challenge } = pkcePair();
      const response = await fetch(authorizeUrl(gw.url, { client, challenge, method: 'S256' }), { redirect: 'manual' });
      const cookies = response.headers.getSetCookie();
      assert.ok(cookies.length > 0);
      for (const cookie of cookies) {
        assert.match(cookie, /httponly/i, cookie);
        assert.match(cookie, /samesite=lax/i, cookie);
      }
    });

    it('remembers approval per user and client: the second authorization skips consent', async () => {
      const client = await publicClient();
      await tokensFor(client, {}, BOB);
      const browser = new HttpBrowser(gw.url);
      const { challenge } = pkcePair();
      const loginStep = await browser.follow(authorizeUrl(gw.url, { client, challenge, method: 'S256' }));
      const afterLogin = await browser.submit(loginStep.url, loginStep.page!, interactionAction(loginStep.page!, 'login'), BOB);
      assert.ok(afterLogin.leftTo, 'no consent page the second time');
      assert.ok(new URL(afterLogin.leftTo).searchParams.get('code'));
      // Another person using the same client is still asked.
      const other = new HttpBrowser(gw.url);
      const otherLogin = await other.follow(authorizeUrl(gw.url, { client, challenge, method: 'S256' }));
      const otherConsent = await other.submit(otherLogin.url, otherLogin.page!, interactionAction(otherLogin.page!, 'login'), ALICE);
      assert.match(otherConsent.page ?? '', /Allow access\?/);
    });

    it('returns access_denied to the client when the person denies', async () => {
      const client = await publicClient();
      const { challenge } = pkcePair();
      const landed = await authorizeWithPassword(
        new HttpBrowser(gw.url),
        authorizeUrl(gw.url, { client, challenge, method: 'S256', state: 's1' }),
        ALICE,
        'deny',
      );
      assert.equal(landed.searchParams.get('error'), 'access_denied');
      assert.equal(landed.searchParams.get('state'), 's1');
      assert.equal(landed.searchParams.get('code'), null);
    });

    it('refuses a wrong password, and forms without a valid CSRF token or from another origin', async () => {
      const client = await publicClient();
      const browser = new HttpBrowser(gw.url);
      const { challenge } = pkcePair();
      const loginStep = await browser.follow(authorizeUrl(gw.url, { client, challenge, method: 'S256' }));
      const action = new URL(interactionAction(loginStep.page!, 'login'), gw.url).toString();
      const wrong = await browser.submit(loginStep.url, loginStep.page!, action, { email: ALICE.email, password: 'nope' });
      assert.equal(wrong.response!.status, 401);
      assert.match(wrong.page!, /do not match/);
      const noCsrf = await browser.request(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(ALICE),
      });
      assert.equal(noCsrf.status, 403);
      const csrf = /name="csrf" value="([^"]+)"/.exec(loginStep.page!)![1]!;
      const foreign = await browser.request(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
        body: new URLSearchParams({ ...ALICE, csrf }),
      });
      assert.equal(foreign.status, 403);
    });

    it('answers a form posted out of step, or too large to read, with a 4xx page that says so (not a 500)', async () => {
      const client = await publicClient();
      const browser = new HttpBrowser(gw.url);
      const { challenge } = pkcePair();
      const loginStep = await browser.follow(authorizeUrl(gw.url, { client, challenge, method: 'S256' }));
      const consent = await browser.submit(loginStep.url, loginStep.page!, interactionAction(loginStep.page!, 'login'), ALICE);
      assert.match(consent.page!, /Allow access\?/);
      // A login form posted to this sign-in, which is at consent now (a second tab, a stale page).
      const loginOfConsent = interactionAction(consent.page!, 'confirm').replace(/\/confirm$/, '/login');
      const again = await browser.submit(consent.url, consent.page!, loginOfConsent, ALICE);
      assert.equal(again.response!.status, 400);
      assert.match(again.page!, /already over/);
      assert.equal(again.response!.headers.get('x-frame-options'), 'DENY');
      const csrf = /name="csrf" value="([^"]+)"/.exec(consent.page!)![1]!;
      const huge = await browser.request(new URL(interactionAction(consent.page!, 'confirm'), gw.url).toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gw.url },
        body: new URLSearchParams({ csrf, decision: 'approve', padding: 'x'.repeat(9000) }),
      });
      assert.equal(huge.status, 413);
      assert.match(await huge.text(), /too large/);
    });

    it('throttles repeated failed logins for an account from one address with a wait', async () => {
      const client = await publicClient();
      const browser = new HttpBrowser(gw.url);
      const { challenge } = pkcePair();
      const loginStep = await browser.follow(authorizeUrl(gw.url, { client, challenge, method: 'S256' }));
      const action = interactionAction(loginStep.page!, 'login');
      const victim = { email: 'bob@example.com', password: 'wrong' };
      const statuses: number[] = [];
      for (let i = 0; i < 6 && !statuses.includes(429); i++)
        statuses.push((await browser.submit(loginStep.url, loginStep.page!, action, victim)).response!.status);
      assert.deepEqual(statuses.slice(0, 3), [401, 401, 401], 'three free tries');
      assert.equal(statuses.at(-1), 429, 'then a wait');
      const correct = await browser.submit(loginStep.url, loginStep.page!, action, BOB);
      assert.equal(correct.response?.status, 429, 'even the right password waits out the delay');
      assert.ok(Number(correct.response?.headers.get('retry-after')) >= 1, 'and is told how long');
      assert.match(correct.page!, /Try again in \d+ seconds?/);
    });
  });
});

describe('authorization server with several MCP servers', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ mcpServers: { one: demoServerCommand, two: demoServerCommand } });
  });
  after(async () => {
    await gw.close();
  });

  it('requires the resource parameter, and binds each token to the server asked for', async () => {
    const client = await registerClient(gw.url, { redirect_uris: [CHATGPT], token_endpoint_auth_method: 'none' });
    const { challenge, verifier } = pkcePair();
    const response = await fetch(authorizeUrl(gw.url, { client, challenge, method: 'S256' }), { redirect: 'manual' });
    const hop = new URL(response.headers.get('location')!, gw.url);
    assert.equal(hop.searchParams.get('error'), 'invalid_target');

    const landed = await authorizeWithPassword(
      new HttpBrowser(gw.url),
      authorizeUrl(gw.url, { client, challenge, method: 'S256', resource: `${gw.url}/mcp/two` }),
      ALICE,
    );
    const tokens = await exchangeCode(gw.url, client, landed.searchParams.get('code')!, verifier);
    assert.equal(decodeJwt(tokens.body.access_token!).payload.aud, `${gw.url}/mcp/two`);
    const mcp = await fetch(`${gw.url}/mcp/one`, { headers: { authorization: `Bearer ${tokens.body.access_token}` } });
    assert.equal(mcp.status, 401, 'a token for server two does not open server one');
  });
});
