import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AUDIT_EVENTS } from '../src/observability/audit.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser, interactionAction } from './helpers/http-browser.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, refresh, registerClient, type RegisteredClient } from './helpers/oauth-client.js';
import { waitFor } from './helpers/wait.js';

type LogLine = Record<string, unknown> & { event?: string; audit?: boolean; msg?: string };

/** An HttpBrowser that remembers every cookie value the gateway ever set. */
class CookieRecordingBrowser extends HttpBrowser {
  readonly cookieValues = new Map<string, Set<string>>();

  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await super.request(url, init);
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      if (value) this.cookieValues.set(name, (this.cookieValues.get(name) ?? new Set()).add(value));
    }
    return response;
  }
}

describe('audit log', () => {
  let gw: TestGateway;
  let lines: LogLine[];
  const events = (event: string) => lines.filter((line) => line.event === event);
  const secrets = new Map<string, string>();
  const cookies = new Map<string, Set<string>>();
  let confidential: RegisteredClient;
  let alice: { sub: string };
  const resource = () => `${gw.url}/mcp/demo`;

  before(async () => {
    gw = await startTestGateway();
    confidential = await registerClient(gw.url, {
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      token_endpoint_auth_method: 'client_secret_post',
      client_name: 'Claude (confidential)',
    });
    secrets.set('client_secret', confidential.client_secret!);
    secrets.set('password', ALICE.password);
    secrets.set('BOB password', BOB.password);

    // A failed password first, then the right one, in the same browser.
    const browser = new CookieRecordingBrowser(gw.url);
    const { verifier, challenge } = pkcePair();
    secrets.set('code_verifier', verifier);
    const authorize = authorizeUrl(gw.url, { client: confidential, challenge, method: 'S256', resource: resource() });
    const first = await browser.follow(authorize);
    const wrong = 'not the password 7f3a9c';
    secrets.set('wrong password', wrong);
    const refused = await browser.submit(first.url, first.page!, interactionAction(first.page!, 'login'), {
      email: ALICE.email,
      password: wrong,
    });
    assert.equal(refused.response?.status, 401);
    const landed = await authorizeWithPassword(browser, authorize, ALICE);
    const code = landed.searchParams.get('code')!;
    secrets.set('authorization code', code);

    // client_secret_post at /token, then a refresh.
    const tokens = await exchangeCode(gw.url, confidential, code, verifier);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    secrets.set('access token', tokens.body.access_token!);
    secrets.set('refresh token', tokens.body.refresh_token!);
    secrets.set('id_token', String(tokens.body.id_token ?? ''));
    const refreshed = await refresh(gw.url, confidential, tokens.body.refresh_token!);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    secrets.set('refreshed access token', refreshed.body.access_token!);
    secrets.set('rotated refresh token', refreshed.body.refresh_token!);
    alice = { sub: String(decodeJwt(refreshed.body.access_token!).payload.sub) };

    // A tool call with the refreshed token.
    const mcp = new McpTestClient(resource(), refreshed.body.access_token!);
    await mcp.initialize();
    assert.equal((await mcp.callTool('echo', { text: 'audited' })).result?.content?.[0]?.text, 'audited');
    assert.equal(await mcp.close(), 200);

    // Bob says no.
    const bobBrowser = new CookieRecordingBrowser(gw.url);
    const denied = await authorizeWithPassword(
      bobBrowser,
      authorizeUrl(gw.url, { client: confidential, challenge, method: 'S256', resource: resource() }),
      BOB,
      'deny',
    );
    assert.equal(denied.searchParams.get('error'), 'access_denied');

    for (const jar of [browser.cookieValues, bobBrowser.cookieValues]) {
      for (const [name, values] of jar) cookies.set(name, new Set([...(cookies.get(name) ?? []), ...values]));
    }
    const written = (event: string) => gw.logs.lines.some((line) => line.includes(`"event":"${event}"`));
    await waitFor(() => written('consent.denied') && written('mcp.tool_call'), { message: 'the last audit lines' });
    lines = gw.logs.lines.map((line) => JSON.parse(line) as LogLine);
  });
  after(async () => {
    await gw.close();
  });

  it('writes one audit event per login, success or failure, with method, who and client', () => {
    const failed = events('login.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.audit, true);
    assert.equal(failed[0]!.outcome, 'failure');
    assert.equal(failed[0]!.method, 'password');
    assert.equal(failed[0]!.who, ALICE.email);
    assert.equal(failed[0]!.clientId, confidential.client_id);
    const succeeded = events('login.success');
    assert.equal(succeeded.length, 2, 'Alice, then Bob');
    assert.deepEqual(
      {
        audit: succeeded[0]!.audit,
        outcome: succeeded[0]!.outcome,
        method: succeeded[0]!.method,
        who: succeeded[0]!.who,
        sub: succeeded[0]!.sub,
        clientId: succeeded[0]!.clientId,
      },
      { audit: true, outcome: 'success', method: 'password', who: ALICE.email, sub: alice.sub, clientId: confidential.client_id },
    );
  });

  it('writes consent granted and denied with who, client and resource', () => {
    const [granted] = events('consent.granted');
    assert.deepEqual(
      { audit: granted!.audit, sub: granted!.sub, clientId: granted!.clientId, resource: granted!.resource },
      { audit: true, sub: alice.sub, clientId: confidential.client_id, resource: resource() },
    );
    const [denied] = events('consent.denied');
    assert.equal(denied!.audit, true);
    assert.equal(denied!.clientId, confidential.client_id);
    assert.notEqual(denied!.sub, alice.sub, 'Bob');
    assert.equal(denied!.resource, resource());
  });

  it('writes token issuance with grant type, client, sub and resource', () => {
    const issued = events('token.issued');
    assert.deepEqual(
      issued.map((line) => line.grantType),
      ['authorization_code', 'refresh_token'],
    );
    for (const line of issued) {
      assert.equal(line.audit, true);
      assert.equal(line.clientId, confidential.client_id);
      assert.equal(line.sub, alice.sub);
      assert.equal(line.resource, resource());
    }
    assert.equal(events('register')[0]?.audit, true);
  });

  it('writes each tool call with who, client, server, tool, outcome and duration', () => {
    const calls = events('mcp.tool_call');
    assert.equal(calls.length, 1);
    const call = calls[0]!;
    assert.deepEqual(
      { audit: call.audit, sub: call.sub, clientId: call.clientId, server: call.server, tool: call.tool, outcome: call.outcome },
      { audit: true, sub: alice.sub, clientId: confidential.client_id, server: 'demo', tool: 'echo', outcome: 'ok' },
    );
    assert.equal(typeof call.durationMs, 'number');
    assert.ok((call.durationMs as number) >= 0 && (call.durationMs as number) < 5000);
  });

  it('marks only known audit events, and every one of them is marked', () => {
    const known = new Set<string>(AUDIT_EVENTS);
    for (const line of lines.filter((l) => l.audit)) assert.ok(known.has(line.event!), `unlisted audit event ${line.event}`);
    for (const line of lines) if (line.event && known.has(line.event)) assert.equal(line.audit, true, `${line.event} without audit: true`);
  });

  it('never logs a token, code, verifier, secret, password or cookie value', () => {
    assert.ok(lines.length > 30, `the log has the whole flow at debug level (${lines.length} lines)`);
    const raw = gw.logs.lines;
    for (const [what, secret] of secrets) {
      if (!secret) continue;
      const leaking = raw.filter((line) => line.includes(secret));
      assert.equal(leaking.length, 0, `${what} appears in the log:\n${leaking.slice(0, 3).join('\n')}`);
    }
    // The JWT signature alone is the secret part of an access token; check it separately as well.
    for (const what of ['access token', 'refreshed access token']) {
      const signature = secrets.get(what)!.split('.')[2]!;
      assert.ok(!raw.some((line) => line.includes(signature)), `${what} signature in the log`);
    }
    assert.ok(cookies.size >= 3, `cookies seen: ${[...cookies.keys()].join(', ')}`);
    const interactionIds = new Set(
      lines.filter((l) => typeof l.path === 'string' && l.path.startsWith('/interaction/')).map((l) => (l.path as string).split('/')[2]!),
    );
    for (const [name, values] of cookies) {
      for (const value of values) {
        // The interaction cookie holds the interaction id, which is also in the sign-in page's URL
        // by design (it is not a credential: its signature cookie is). Everything else must not appear.
        if ((name === '_interaction' || name === '_interaction_resume') && interactionIds.has(value)) continue;
        const leaking = raw.filter((line) => line.includes(value));
        assert.equal(leaking.length, 0, `cookie ${name} appears in the log:\n${leaking.slice(0, 3).join('\n')}`);
      }
    }
  });
});
