import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, refresh, registerClient, type RegisteredClient } from './helpers/oauth-client.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';

/** Opens an MCP session with the token and calls the demo server's echo tool. */
async function echoThroughGateway(url: string, token: string): Promise<string | undefined> {
  const client = new McpTestClient(`${url}/mcp/demo`, token);
  await client.initialize();
  return (await client.callTool('echo', { text: 'still here' })).result?.content?.[0]?.text;
}

function restartSuite(name: string, storage: () => string) {
  describe(`restart with ${name} storage`, () => {
    let config: Record<string, unknown>;
    let gateway: GatewayProcess | undefined;
    before(async () => {
      const spec = storage();
      config = await testConfigJson(spec ? { storage: spec } : {});
    });
    after(async () => {
      await gateway?.kill();
    });

    it('loses no registration, grant, refresh token, consent or signing key after kill -9', async () => {
      gateway = await spawnGateway(config);
      const url = gateway.url;
      const client: RegisteredClient = await registerClient(url, {
        redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
        token_endpoint_auth_method: 'client_secret_post',
        client_name: 'Claude',
      });
      const { verifier, challenge } = pkcePair();
      const landed = await authorizeWithPassword(new HttpBrowser(url), authorizeUrl(url, { client, challenge, method: 'S256' }), ALICE);
      const tokens = (await exchangeCode(url, client, landed.searchParams.get('code')!, verifier)).body;
      assert.ok(tokens.access_token && tokens.refresh_token);
      const jwksBefore = await (await fetch(`${url}/jwks`)).json();
      assert.equal(await echoThroughGateway(url, tokens.access_token), 'still here');

      await gateway.kill('SIGKILL');
      gateway = await spawnGateway(config);

      assert.deepEqual(await (await fetch(`${url}/jwks`)).json(), jwksBefore, 'same signing keys');
      assert.equal(await echoThroughGateway(url, tokens.access_token), 'still here', 'the old access token still works');
      const refreshed = await refresh(url, client, tokens.refresh_token);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(decodeJwt(refreshed.body.access_token!).payload.aud, `${url}/mcp/demo`);

      // The registration survived, and so did the consent: logging in again goes straight back.
      const again = pkcePair();
      const browser = new HttpBrowser(url);
      const second = await authorizeWithPassword(browser, authorizeUrl(url, { client, challenge: again.challenge, method: 'S256' }), ALICE);
      assert.ok(second.searchParams.get('code'));
      const secondTokens = await exchangeCode(url, client, second.searchParams.get('code')!, again.verifier);
      assert.equal(secondTokens.status, 200);

      // A person removed from the configuration is locked out at their next refresh.
      await gateway.kill('SIGKILL');
      const hashes = (config.login as { password: { users: Array<{ email: string }> } }).password.users;
      gateway = await spawnGateway({ ...config, login: { password: { users: hashes.filter((u) => u.email !== ALICE.email) } } });
      const lockedOut = await refresh(url, client, refreshed.body.refresh_token!);
      assert.equal(lockedOut.status, 400, JSON.stringify(lockedOut.body));
      assert.equal(lockedOut.body.error, 'invalid_grant');
    });
  });
}

restartSuite('embedded LMDB', () => '');

let redis: TestRedis | undefined;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});
restartSuite('Redis', () => redis!.url);
