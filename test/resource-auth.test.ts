import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { importJWK, SignJWT, type JWK } from 'jose';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, exchangeCode, pkcePair, registerClient } from './helpers/oauth-client.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('protected resource: metadata and bearer tokens', () => {
  let gw: TestGateway;
  let resource: string;
  let signingJwk: JWK;
  let realToken: string;

  before(async () => {
    gw = await startTestGateway();
    resource = `${gw.url}/mcp/demo`;
    signingJwk = gw.running.gateway.signingKeys[0]!.jwk;
    const client = await registerClient(gw.url, {
      redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'],
      token_endpoint_auth_method: 'none',
    });
    const { verifier, challenge } = pkcePair();
    const landed = await authorizeWithPassword(new HttpBrowser(gw.url), authorizeUrl(gw.url, { client, challenge, method: 'S256' }), ALICE);
    realToken = (await exchangeCode(gw.url, client, landed.searchParams.get('code')!, verifier)).body.access_token!;
  });
  after(async () => {
    await gw.close();
  });

  const call = (token?: string, path = '/mcp/demo') =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });

  async function ownKeyToken(claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    const key = await importJWK(signingJwk, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: gw.url,
      aud: resource,
      sub: 'someone',
      iat: now,
      exp: now + 600,
      client_id: 'c',
      scope: 'mcp',
      jti: String(Math.random()),
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: signingJwk.kid, ...header })
      .sign(key);
  }

  it('publishes RFC 9728 metadata per server', async () => {
    const response = await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/demo`, {
      headers: { origin: 'http://localhost:6274' },
    });
    assert.equal(response.status, 200);
    assert.ok(response.headers.get('access-control-allow-origin'));
    const metadata = (await response.json()) as Record<string, unknown>;
    assert.equal(metadata.resource, resource);
    assert.deepEqual(metadata.authorization_servers, [gw.url]);
    assert.deepEqual(metadata.scopes_supported, ['mcp'], "offline_access is the authorization server's business, never a resource's");
    assert.deepEqual(metadata.bearer_methods_supported, ['header']);
    assert.equal((await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/nope`)).status, 404);
  });

  it('challenges a request without a token', async () => {
    const response = await call();
    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get('www-authenticate'),
      `Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp/demo", scope="mcp"`,
    );
  });

  it('accepts the token the gateway issued for this server, and a well-formed one signed with its key', async () => {
    assert.equal((await call(realToken)).status, 400, 'past authentication: refused only for lacking a session');
    assert.equal((await call(await ownKeyToken({}))).status, 400, 'the forgery cases below differ from this only in what they test');
    const session = await fetch(`${gw.url}/mcp/demo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${realToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    assert.equal(session.status, 200);
    assert.ok(session.headers.get('mcp-session-id'));
  });

  it('refuses forged, foreign, expired and confused tokens with invalid_token', async () => {
    const header = JSON.parse(Buffer.from(realToken.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    const payload = JSON.parse(Buffer.from(realToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const { privateKey: otherKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const now = Math.floor(Date.now() / 1000);
    const hsInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })}.${b64(payload)}`;
    const publicPem = JSON.stringify({ kty: signingJwk.kty, n: signingJwk.n, e: signingJwk.e });
    const forged: Array<[string, string]> = [
      ['garbage', 'not-a-jwt'],
      ['alg none', `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(payload)}.`],
      ['HS256 keyed with the public key', `${hsInput}.${createHmac('sha256', publicPem).update(hsInput).digest('base64url')}`],
      ['tampered payload', `${realToken.split('.')[0]}.${b64({ ...payload, sub: 'admin' })}.${realToken.split('.')[2]}`],
      [
        'another key with our kid',
        await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: String(header.kid) }).sign(otherKey),
      ],
      ['another audience', await ownKeyToken({ aud: `${gw.url}/mcp/other` })],
      ['several audiences', await ownKeyToken({ aud: [resource, 'https://elsewhere.example'] })],
      ['another issuer', await ownKeyToken({ iss: 'https://evil.example' })],
      ['expired', await ownKeyToken({ exp: now - 120, iat: now - 3600 })],
      ['not yet valid', await ownKeyToken({ nbf: now + 600 })],
      ['an ID token (typ JWT)', await ownKeyToken({}, { typ: 'JWT' })],
    ];
    for (const [what, token] of forged) {
      const response = await call(token);
      assert.equal(response.status, 401, what);
      assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/, what);
    }
  });

  it('answers a valid token without the mcp scope with 403 insufficient_scope, naming every scope the call needs', async () => {
    for (const scope of ['openid offline_access', undefined]) {
      const response = await call(await ownKeyToken({ scope }));
      assert.equal(response.status, 403, String(scope));
      assert.equal(
        response.headers.get('www-authenticate'),
        `Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp/demo", scope="mcp", ` +
          'error="insufficient_scope", error_description="the token lacks the mcp scope"',
      );
      assert.equal(((await response.json()) as { error: string }).error, 'insufficient_scope');
    }
  });

  it('does not accept the token in a query string or for an unknown server', async () => {
    const query = await fetch(`${gw.url}/mcp/demo?access_token=${realToken}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(query.status, 401);
    assert.equal((await call(realToken, '/mcp/unknown')).status, 404);
  });
});
