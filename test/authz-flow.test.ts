import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, refresh, registerClient, type RegisteredClient } from './helpers/oauth-client.js';

describe('authorization code flow with a password login', () => {
  let gw: TestGateway;
  before(async () => { gw = await startTestGateway(); });
  after(async () => { await gw.close(); });

  async function authorize(client: RegisteredClient, extra: Partial<Parameters<typeof authorizeUrl>[1]> = {}) {
    const { verifier, challenge } = pkcePair();
    const state = 'xyz';
    const landed = await authorizeWithPassword(new HttpBrowser(gw.url), authorizeUrl(gw.url, { client, challenge, method: 'S256', state, ...extra }), ALICE);
    return { landed, verifier, state };
  }

  it('issues an audience-bound JWT and a refresh token to a connector that asks for no scope', async () => {
    const client = await registerClient(gw.url, { redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'], token_endpoint_auth_method: 'none', client_name: 'ChatGPT' });
    const { landed, verifier, state } = await authorize(client);
    assert.equal(landed.origin + landed.pathname, 'https://chatgpt.com/connector_platform_oauth_redirect');
    assert.equal(landed.searchParams.get('state'), state);
    assert.equal(landed.searchParams.get('iss'), gw.url);
    const code = landed.searchParams.get('code');
    assert.ok(code, landed.toString());
    const tokens = await exchangeCode(gw.url, client, code, verifier);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.ok(tokens.body.refresh_token, 'a refresh token without offline_access');
    const { header, payload } = decodeJwt(tokens.body.access_token!);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(payload.iss, gw.url);
    assert.equal(payload.aud, `${gw.url}/mcp/demo`);
    assert.equal(payload.client_id, client.client_id);
    assert.match(String(payload.scope), /\bmcp\b/);
    assert.ok(payload.sub && payload.jti && payload.exp);

    const refreshed = await refresh(gw.url, client, tokens.body.refresh_token!);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.notEqual(refreshed.body.refresh_token, tokens.body.refresh_token);
    assert.equal(decodeJwt(refreshed.body.access_token!).payload.aud, `${gw.url}/mcp/demo`);
  });
});
