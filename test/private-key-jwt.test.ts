import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, type CryptoKey } from 'jose';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import {
  authorizeUrl,
  decodeJwt,
  exchangeCode,
  pkcePair,
  refresh,
  register,
  tokenRequest,
  type RegisteredClient,
} from './helpers/oauth-client.js';
import {
  CHATGPT_CONNECTOR_ID as CONNECTOR_ID,
  CHATGPT_DOCUMENTS as documents,
  CHATGPT_STABLE_ID as STABLE_ID,
  startChatGptStandIn,
  type AssertionParts,
  type ChatGptStandIn,
} from './helpers/chatgpt-stand-in.js';

describe('ChatGPT through its Client ID Metadata Document with private_key_jwt', () => {
  let gw: TestGateway;
  let chatgpt: ChatGptStandIn;
  let strangerKey: CryptoKey;

  before(async () => {
    chatgpt = await startChatGptStandIn();
    ({ privateKey: strangerKey } = await generateKeyPair('RS256'));
    gw = await startTestGateway({}, { fetch: chatgpt.fetch });
  });
  after(async () => {
    await gw.close();
    chatgpt.close();
  });

  const client = (id: string): RegisteredClient => ({
    client_id: id,
    redirect_uris: (documents[new URL(id).pathname]!.redirect_uris as string[]).slice(0, 1),
    token_endpoint_auth_method: 'private_key_jwt',
  });

  const assertion = (parts: Partial<AssertionParts> = {}) => chatgpt.assertion({ aud: `${gw.url}/token`, ...parts });

  async function signIn(who: RegisteredClient): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = pkcePair();
    const landed = await authorizeWithPassword(
      new HttpBrowser(gw.url),
      authorizeUrl(gw.url, { client: who, challenge, method: 'S256' }),
      ALICE,
    );
    const code = landed.searchParams.get('code');
    assert.ok(code, landed.toString());
    return { code, verifier };
  }

  /** A token request whose code is not real: client authentication passing shows as invalid_grant. */
  const withBogusCode = (extra: Record<string, string>, id = STABLE_ID) =>
    tokenRequest(gw.url, client(id), { grant_type: 'authorization_code', code: 'not-a-code', code_verifier: 'x'.repeat(43), ...extra });

  it('advertises private_key_jwt and asymmetric signing algorithms at the token endpoint', async () => {
    const metadata = (await (await fetch(`${gw.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, string[]>;
    assert.ok(metadata.token_endpoint_auth_methods_supported!.includes('private_key_jwt'));
    assert.ok(metadata.token_endpoint_auth_methods_supported!.includes('none'));
    assert.ok(metadata.token_endpoint_auth_signing_alg_values_supported!.includes('RS256'));
  });

  it('signs in, exchanges the code and refreshes with signed assertions; the key set is fetched once', async () => {
    const stable = client(STABLE_ID);
    const { code, verifier } = await signIn(stable);
    const tokens = await exchangeCode(gw.url, stable, code, verifier, await assertion());
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(decodeJwt(tokens.body.access_token!).payload.client_id, STABLE_ID);
    // aud may be the issuer as well as the token endpoint.
    const refreshed = await refresh(gw.url, stable, tokens.body.refresh_token!, await assertion({ aud: gw.url }));
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(chatgpt.keySetFetches(), 1, 'the key set comes from the cache after the first fetch');
  });

  it('refuses the document-declared client without an assertion', async () => {
    const refused = await withBogusCode({});
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'invalid_client');
  });

  it('refuses a forged assertion (right kid, another key)', async () => {
    const refused = await withBogusCode(await assertion({ key: strangerKey }));
    assert.equal(refused.body.error, 'invalid_client', JSON.stringify(refused.body));
  });

  it('refuses a replayed jti, even two at the same moment', async () => {
    const once = await assertion();
    assert.equal((await withBogusCode(once)).body.error, 'invalid_grant', 'the first use authenticates');
    const replayed = await withBogusCode(once);
    assert.equal(replayed.body.error, 'invalid_client');
    assert.match(replayed.body.error_description ?? '', /only be used once|client authentication failed/);
    const twin = await assertion();
    const both = await Promise.all([withBogusCode(twin), withBogusCode(twin)]);
    assert.deepEqual(both.map((answer) => answer.body.error).sort(), ['invalid_client', 'invalid_grant']);
  });

  it('refuses a wrong aud: another endpoint, another server, or a list with one of them', async () => {
    for (const aud of [`${gw.url}/revoke`, 'https://other.example/token', [`${gw.url}/token`, 'https://other.example']]) {
      const refused = await withBogusCode(await assertion({ aud }));
      assert.equal(refused.body.error, 'invalid_client', `${JSON.stringify(aud)}: ${JSON.stringify(refused.body)}`);
    }
  });

  it('refuses a long-lived assertion and a symmetric algorithm', async () => {
    assert.equal((await withBogusCode(await assertion({ expiresIn: 3600 }))).body.error, 'invalid_client');
    const hmacKey = new TextEncoder().encode('s'.repeat(32));
    assert.equal((await withBogusCode(await assertion({ alg: 'HS256', key: hmacKey }))).body.error, 'invalid_client');
  });

  it('refetches the key set once for an unknown kid, then refuses; a flood of kids causes no more fetches', async () => {
    await new Promise((resolve) => setTimeout(resolve, 10_500)); // past the unknown-kid cooldown
    const fetchesBefore = chatgpt.keySetFetches();
    const refused = await withBogusCode(await assertion({ kid: 'never-published', key: strangerKey }));
    assert.equal(refused.body.error, 'invalid_client');
    assert.equal(chatgpt.keySetFetches(), fetchesBefore + 1, 'refetched once');
    for (const kid of ['a', 'b', 'c']) await withBogusCode(await assertion({ kid, key: strangerKey }));
    assert.equal(chatgpt.keySetFetches(), fetchesBefore + 1, 'no refetch inside the cooldown');
  });

  it('accepts none from a document that lists it among its supported methods, and assertions too', async () => {
    const connector: RegisteredClient = { ...client(CONNECTOR_ID), token_endpoint_auth_method: 'none' };
    const first = await signIn(connector);
    const tokens = await exchangeCode(gw.url, connector, first.code, first.verifier);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const second = await signIn(connector);
    const signed = await exchangeCode(gw.url, connector, second.code, second.verifier, await assertion({ clientId: CONNECTOR_ID }));
    assert.equal(signed.status, 200, JSON.stringify(signed.body));
    const forged = await withBogusCode(await assertion({ clientId: CONNECTOR_ID, key: strangerKey }), CONNECTOR_ID);
    assert.equal(forged.body.error, 'invalid_client', 'an assertion that is sent is still checked');
  });

  it('keeps registered clients as they are: private_key_jwt may be registered, never with a key set at a private address', async () => {
    const metadata = { redirect_uris: ['https://tools.example.org/callback'], token_endpoint_auth_method: 'private_key_jwt' };
    // A literal public address: registration resolves names with the system's DNS, which tests do not have.
    const registered = await register(gw.url, { ...metadata, jwks_uri: 'https://8.8.8.8/jwks.json' });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    for (const jwksUri of [
      'https://127.0.0.1/jwks.json',
      'https://10.0.0.8/jwks.json',
      'https://localhost/jwks.json',
      'http://chatgpt.com/oauth/jwks.json',
    ]) {
      const refused = await register(gw.url, { ...metadata, jwks_uri: jwksUri });
      assert.equal(refused.status, 400, jwksUri);
      assert.equal(refused.body.error, 'invalid_client_metadata', jwksUri);
    }
  });
});
