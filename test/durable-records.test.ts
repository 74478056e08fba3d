import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { obtainTokens } from './helpers/tokens.js';
import { authorizeUrl, pkcePair, refresh, register, registerClient, type RegisteredClient } from './helpers/oauth-client.js';
import { sleep, waitFor } from './helpers/wait.js';

const REDIRECT = 'https://claude.ai/api/mcp/auth_callback';
const UNUSED_CLIENT_TTL = 2;

interface StoredEntry {
  v: unknown;
  e?: number;
}
/** The embedded store's keys and raw entries (value and expiry), read directly from LMDB. */
function lmdb(gw: TestGateway): { getKeys(): Iterable<string>; get(key: string): StoredEntry | undefined } {
  return (gw.running.store as unknown as { db: ReturnType<typeof lmdb> }).db;
}
const storedKeys = (gw: TestGateway) =>
  [...lmdb(gw).getKeys()].filter((key) => lmdb(gw).get(key)?.e === undefined || lmdb(gw).get(key)!.e! > Date.now());

describe('records created without signing in', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ tokens: { unusedClientTtl: `${UNUSED_CLIENT_TTL}s`, grantTtl: '30d', refreshTokenTtl: '20d' } });
  });
  after(async () => {
    await gw.close();
  });

  it('GET /session/end is not served and stores nothing, 200 times over', async () => {
    const before = new Set(storedKeys(gw));
    for (let i = 0; i < 200; i++) {
      const response = await fetch(`${gw.url}/session/end`, { redirect: 'manual' });
      assert.equal(response.status, 404);
      assert.equal(response.headers.getSetCookie().length, 0);
      await response.arrayBuffer();
    }
    const added = storedKeys(gw).filter((key) => !before.has(key));
    assert.deepEqual(added, []);
  });

  it('answers 404 on every authorization-server endpoint the gateway does not use, and does not advertise them', async () => {
    const client = await registerClient(gw.url, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const unused: Array<[string, string, string?]> = [
      ['GET', '/session/end'],
      ['POST', '/session/end', 'logout=yes'],
      ['POST', '/session/end/confirm', 'xsrf=x&logout=yes'],
      ['GET', '/session/end/success'],
      ['POST', '/request', `client_id=${client.client_id}`],
      ['GET', `/register/${client.client_id}`],
      ['GET', '/me'],
      ['POST', '/token/introspection', 'token=x'],
      ['GET', '/device'],
      ['POST', '/device/auth', `client_id=${client.client_id}`],
      ['POST', '/backchannel', 'x=y'],
      ['POST', '/challenge'],
    ];
    for (const [method, path, body] of unused) {
      const response = await fetch(`${gw.url}${path}`, { method, redirect: 'manual', headers: body ? form : {}, body });
      assert.equal(response.status, 404, `${method} ${path}`);
    }
    const metadata = (await (await fetch(`${gw.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    for (const field of [
      'end_session_endpoint',
      'pushed_authorization_request_endpoint',
      'userinfo_endpoint',
      'introspection_endpoint',
      'device_authorization_endpoint',
    ]) {
      assert.equal(metadata[field], undefined, field);
    }
    assert.equal(client.registration_access_token, undefined);
    assert.equal(client.registration_client_uri, undefined);
  });

  async function authorizeHop(client: RegisteredClient): Promise<number> {
    const { challenge } = pkcePair();
    const response = await fetch(authorizeUrl(gw.url, { client, challenge, method: 'S256' }), { redirect: 'manual' });
    await response.arrayBuffer();
    return response.status;
  }

  it('forgets a registered client that never completed a grant after tokens.unusedClientTtl', async () => {
    const before = new Set(storedKeys(gw));
    const client = await registerClient(gw.url, {
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      client_name: 'never used',
    });
    assert.deepEqual(
      storedKeys(gw).filter((key) => !before.has(key)),
      [`oidc:Client:${client.client_id}`],
      'one record per registration',
    );
    assert.equal(await authorizeHop(client), 303, 'usable at first');
    const key = `oidc:Client:${client.client_id}`;
    await waitFor(() => !storedKeys(gw).includes(key), { timeout: UNUSED_CLIENT_TTL * 1000 + 5000, message: 'the record to expire' });
    assert.equal(await authorizeHop(client), 400, 'forgotten after its TTL');
  });

  it('keeps a client with a completed grant as long as its grant and refresh token, extended on every refresh', async () => {
    const { refresh_token, client } = await obtainTokens(gw.url, 'demo');
    const key = `oidc:Client:${client.client_id}`;
    const grantTtlMs = 30 * 86400_000;
    const firstExpiry = lmdb(gw).get(key)?.e ?? 0;
    assert.ok(firstExpiry >= Date.now() + grantTtlMs - 60_000, `client expires in ${(firstExpiry - Date.now()) / 1000}s`);
    // Longer than an unused client lives: this one is not forgotten.
    await sleep(UNUSED_CLIENT_TTL * 1000 + 500);
    const refreshed = await refresh(gw.url, client, refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.ok((lmdb(gw).get(key)?.e ?? 0) > firstExpiry, 'a refresh extends the client');
    assert.equal(await authorizeHop(client), 303);
  });

  it('rejects a misconfigured unusedClientTtl with a message naming the field', async () => {
    await assert.rejects(startTestGateway({ tokens: { unusedClientTtl: 'soon' } }), (error: Error & { problems?: string[] }) => {
      assert.match(error.problems?.join('\n') ?? '', /^tokens\.unusedClientTtl: unusedClientTtl must be a duration/m);
      return true;
    });
  });
});

describe('rate limit on authorization requests', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ rateLimits: { authorize: { limit: 3, window: '1m' } } });
  });
  after(async () => {
    await gw.close();
  });

  it('counts GET /authorize per client IP and answers 429 with Retry-After past the limit', async () => {
    const client = await registerClient(gw.url, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      const { challenge } = pkcePair();
      last = await fetch(authorizeUrl(gw.url, { client, challenge, method: 'S256' }), { redirect: 'manual' });
      statuses.push(last.status);
      if (i < 3) await last.arrayBuffer();
    }
    assert.deepEqual(statuses, [303, 303, 303, 429]);
    assert.ok(Number(last!.headers.get('retry-after')) > 0);
    assert.match(await last!.text(), /Too many/);
    const { status } = await register(gw.url, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    assert.equal(status, 201, 'other endpoints are not counted');
  });
});
