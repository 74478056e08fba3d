import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, demoServerCommand, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, registerClient, type RegisteredClient } from './helpers/oauth-client.js';

const REDIRECT = 'https://chatgpt.com/connector_platform_oauth_redirect';

/** An authorization URL asking for every resource in `resources` (repeated `resource` parameters). */
function severalResources(baseUrl: string, client: RegisteredClient, challenge: string, resources: string[], state: string): string {
  const url = new URL(authorizeUrl(baseUrl, { client, challenge, method: 'S256', state }));
  for (const resource of resources) url.searchParams.append('resource', resource);
  return url.toString();
}

describe('one MCP server per authorization', () => {
  let gw: TestGateway;
  let one: string;
  let two: string;
  before(async () => {
    gw = await startTestGateway({ mcpServers: { one: demoServerCommand, two: demoServerCommand } });
    one = `${gw.url}/mcp/one`;
    two = `${gw.url}/mcp/two`;
  });
  after(async () => {
    await gw.close();
  });

  async function refusal(client: RegisteredClient, browser = new HttpBrowser(gw.url)): Promise<URL> {
    const { challenge } = pkcePair();
    const step = await browser.follow(severalResources(gw.url, client, challenge, [one, two], 'st4te'));
    assert.ok(step.leftTo, `expected a redirect to the client, got ${step.response?.status} at ${step.url}: ${step.page?.slice(0, 300)}`);
    return new URL(step.leftTo);
  }

  it('refuses several resource parameters with invalid_target, at the client, before any page', async () => {
    const client = await registerClient(gw.url, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Several' });
    const landed = await refusal(client);
    assert.equal(`${landed.origin}${landed.pathname}`, REDIRECT);
    assert.equal(landed.searchParams.get('error'), 'invalid_target');
    assert.match(landed.searchParams.get('error_description') ?? '', /one resource/);
    assert.equal(landed.searchParams.get('state'), 'st4te');
    assert.equal(landed.searchParams.get('iss'), gw.url);
    assert.equal(landed.searchParams.get('code'), null);
  });

  it('refuses them for a signed-in person who already approved one of the servers', async () => {
    const client = await registerClient(gw.url, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Several' });
    const browser = new HttpBrowser(gw.url);
    const { challenge, verifier } = pkcePair();
    const approved = await authorizeWithPassword(
      browser,
      authorizeUrl(gw.url, { client, challenge, method: 'S256', resource: one }),
      ALICE,
    );
    const tokens = await exchangeCode(gw.url, client, approved.searchParams.get('code')!, verifier);
    assert.equal(decodeJwt(tokens.body.access_token!).payload.aud, one);

    const landed = await refusal(client, browser);
    assert.equal(landed.searchParams.get('error'), 'invalid_target');
    assert.equal(landed.searchParams.get('code'), null);
  });
});
