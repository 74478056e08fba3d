import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, exchangeCode, pkcePair, registerClient, type RegisteredClient, type TokenResult } from './helpers/oauth-client.js';

const INSPECTOR_2_CALLBACK = 'http://127.0.0.1:6274/oauth/callback';
const INSPECTOR_LOCALHOST_CALLBACK = 'http://localhost:6274/oauth/callback';

/** What MCP Inspector registers: a public client with the callback of the origin its page was opened from. */
const registerInspector = (gw: TestGateway, redirectUri: string) =>
  registerClient(gw.url, {
    client_name: 'MCP Inspector',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  });

/** Inspector 2.x's sign-in: scope "mcp offline_access" with prompt=consent, then the code exchange. */
async function signIn(gw: TestGateway, client: RegisteredClient): Promise<TokenResult> {
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(gw.url, { client, challenge, method: 'S256', scope: 'mcp offline_access', extra: { prompt: 'consent' } });
  const landed = await authorizeWithPassword(new HttpBrowser(gw.url), url, ALICE);
  const code = landed.searchParams.get('code');
  assert.ok(code, landed.toString());
  const tokens = await exchangeCode(gw.url, client, code, verifier);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return tokens;
}

/** A refresh exactly as Inspector 1.x in Direct mode sends it: the MCP request's Content-Type and the expired bearer token. */
async function inspectorOneRefresh(gw: TestGateway, clientId: string, refreshToken: string, bearer: string): Promise<TokenResult> {
  const response = await fetch(`${gw.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json, application/x-www-form-urlencoded',
      authorization: `Bearer ${bearer}`,
      accept: 'application/json, text/event-stream',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }).toString(),
  });
  return { status: response.status, body: (await response.json()) as TokenResult['body'] };
}

describe('MCP Inspector as people run it', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw.close();
  });

  it('2.x opened from 127.0.0.1:6274 is recognised as MCP Inspector and gets a refresh token for "mcp offline_access"', async () => {
    const client = await registerInspector(gw, INSPECTOR_2_CALLBACK);
    const registered = gw.logs.lines.find((line) => line.includes('"event":"register"') && line.includes(client.client_id));
    assert.match(registered ?? '', /"profile":"inspector"/, registered);
    const tokens = await signIn(gw, client);
    assert.ok(tokens.body.refresh_token, JSON.stringify(tokens.body));
  });

  it('opened from the other loopback name, the error page says to clear its stored OAuth state', async () => {
    const client = await registerInspector(gw, INSPECTOR_LOCALHOST_CALLBACK);
    const { challenge } = pkcePair();
    const url = authorizeUrl(gw.url, { client, redirectUri: INSPECTOR_2_CALLBACK, challenge, method: 'S256' });
    const response = await fetch(url, { redirect: 'manual' });
    const page = (await response.text()).replace(/&quot;|&#34;/g, '"');
    assert.equal(response.status, 400);
    assert.match(page, /redirect_uri did not match/);
    assert.match(page, /registered itself for http:\/\/localhost:6274 and now returns to http:\/\/127\.0\.0\.1:6274/);
    assert.match(page, /Clear the application's stored OAuth state|Clear the application&#39;s stored OAuth state/);
    assert.match(page, /"Clear OAuth State"/);
  });

  it('a redirect URI that is simply wrong gets the usual page, without that advice', async () => {
    const client = await registerInspector(gw, INSPECTOR_LOCALHOST_CALLBACK);
    const { challenge } = pkcePair();
    const url = authorizeUrl(gw.url, { client, redirectUri: 'https://elsewhere.example/cb', challenge, method: 'S256' });
    const page = await (await fetch(url, { redirect: 'manual' })).text();
    assert.doesNotMatch(page, /Clear OAuth State/);
  });

  it('1.x Direct mode: a refresh with the MCP request headers succeeds; with a dead refresh token it is invalid_grant', async () => {
    const client = await registerInspector(gw, INSPECTOR_LOCALHOST_CALLBACK);
    const tokens = await signIn(gw, client);
    const refreshed = await inspectorOneRefresh(gw, client.client_id, tokens.body.refresh_token!, tokens.body.access_token!);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.ok(refreshed.body.access_token);
    // invalid_grant sends the Inspector back through sign-in; invalid_request left it stuck.
    const dead = await inspectorOneRefresh(gw, client.client_id, 'no-such-refresh-token', tokens.body.access_token!);
    assert.equal(dead.status, 400);
    assert.equal(dead.body.error, 'invalid_grant', JSON.stringify(dead.body));
  });

  it('/revoke calls are logged with client, token type hint and outcome, never the token', async () => {
    const client = await registerInspector(gw, INSPECTOR_LOCALHOST_CALLBACK);
    const tokens = await signIn(gw, client);
    const revoke = (token: string, hint: string) =>
      fetch(`${gw.url}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: hint, client_id: client.client_id }).toString(),
      });
    assert.equal((await revoke(tokens.body.refresh_token!, 'refresh_token')).status, 200);
    assert.equal((await revoke('not-a-token', 'access_token')).status, 200);
    const lines = gw.logs.lines.filter((line) => line.includes('"event":"token.revoke"') && line.includes(client.client_id));
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /"tokenTypeHint":"refresh_token"/);
    assert.match(lines[0]!, /"outcome":"revoked"/);
    assert.match(lines[0]!, /"level":(30|"info")/);
    assert.match(lines[1]!, /"tokenTypeHint":"access_token"/);
    assert.match(lines[1]!, /"outcome":"no such token/);
    assert.ok(!gw.logs.lines.some((line) => line.includes(tokens.body.refresh_token!)), 'the token is never logged');
  });
});
