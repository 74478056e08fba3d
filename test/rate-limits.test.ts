import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { clientIp } from '../src/web/client-address.js';
import { METRIC_NAMES } from '../src/observability/metrics.js';
import { ALICE, BOB, startTestGateway, testConfigJson, type TestGateway } from './helpers/gateway.js';
import { startFakeGithub } from './helpers/fake-identity-providers.js';
import { authorizeWithPassword, ForwardedBrowser, interactionAction } from './helpers/http-browser.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { authorizeUrl, pkcePair, type RegisteredClient } from './helpers/oauth-client.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitOutRetryAfter } from './helpers/wait.js';

const METRICS_TOKEN = 'rate-limit-test-metrics-token';
const WINDOW = '2s';
/** Three password checks must fit in one login window even on a busy machine. */
const LOGIN_WINDOW_SECONDS = 8;

function register(gw: TestGateway, ip: string, origin?: string): Promise<Response> {
  return fetch(`${gw.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, ...(origin ? { origin } : {}) },
    body: JSON.stringify({ redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'none' }),
  });
}

/** Registers from `ip`, so the registration counts there and not for 127.0.0.1. */
async function registeredFrom(gw: TestGateway, ip: string): Promise<RegisteredClient> {
  const response = await register(gw, ip);
  assert.equal(response.status, 201);
  return (await response.json()) as RegisteredClient;
}

/** A token request that oidc-provider refuses (unknown client): still a request to count. */
function tokenRequest(url: string, ip?: string, origin?: string): Promise<Response> {
  return fetch(`${url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(ip ? { 'x-forwarded-for': ip } : {}),
      ...(origin ? { origin } : {}),
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: 'nothing',
      code_verifier: 'x'.repeat(43),
      client_id: 'no-such-client',
      redirect_uri: 'https://claude.ai/api/mcp/auth_callback',
    }),
  });
}

async function expect429(response: Response, windowSeconds = 2): Promise<{ retryAfter: number; body: string }> {
  const body = await response.text();
  assert.equal(response.status, 429, body);
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds,
    `Retry-After: ${response.headers.get('retry-after')}`,
  );
  return { retryAfter, body };
}

describe('rate limits', () => {
  let gw: TestGateway;
  let github: Awaited<ReturnType<typeof startFakeGithub>>;
  const auditEvents = (event: string) =>
    gw.logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.event === event);

  before(async () => {
    github = await startFakeGithub('gh-client', 'gh-secret');
    gw = await startTestGateway({
      trustProxy: true,
      metrics: { token: METRICS_TOKEN },
      login: {
        ...((await testConfigJson()).login as Record<string, unknown>),
        github: { clientId: 'gh-client', clientSecret: 'gh-secret', webUrl: github.url, apiUrl: github.apiUrl },
      },
      access: { allowAnyone: true },
      rateLimits: {
        login: { limit: 3, window: `${LOGIN_WINDOW_SECONDS}s` },
        register: { limit: 2, window: WINDOW },
        token: { limit: 3, window: WINDOW },
        mcp: { limit: 5, window: WINDOW },
      },
    });
  });
  after(async () => {
    await gw.close();
    await github.close();
  });

  it('limits /register per client IP: 429 with Retry-After and an OAuth-style body; other IPs go on; it resets', async () => {
    assert.equal((await register(gw, '203.0.113.1')).status, 201);
    assert.equal((await register(gw, '203.0.113.1')).status, 201);
    const refused = await register(gw, '203.0.113.1', 'http://localhost:6274');
    assert.equal(refused.headers.get('access-control-allow-origin'), '*', 'a browser client can read the refusal');
    const { retryAfter, body } = await expect429(refused);
    assert.deepEqual(Object.keys(JSON.parse(body)).sort(), ['error', 'error_description', 'retry_after']);
    assert.equal(JSON.parse(body).error, 'rate_limited');
    assert.equal((await register(gw, '203.0.113.2')).status, 201, 'another address is not affected');
    await waitOutRetryAfter(retryAfter);
    assert.equal((await register(gw, '203.0.113.1')).status, 201, 'the window has passed');
    const logged = auditEvents('rate_limited').find((line) => line.limit === 'register');
    assert.equal(logged?.audit, true);
    assert.equal(logged?.ip, '203.0.113.1');
  });

  it('limits /token per client IP with an OAuth error body; other IPs go on; it resets', async () => {
    for (let i = 0; i < 3; i++) assert.notEqual((await tokenRequest(gw.url, '203.0.113.3')).status, 429);
    const refused = await tokenRequest(gw.url, '203.0.113.3', 'https://claude.ai');
    assert.equal(refused.headers.get('access-control-allow-origin'), '*');
    const { retryAfter, body } = await expect429(refused);
    const parsed = JSON.parse(body) as { error: string; error_description: string };
    assert.equal(parsed.error, 'rate_limited');
    assert.match(parsed.error_description, /too many token requests from this address; retry in \d seconds/);
    const other = await tokenRequest(gw.url, '203.0.113.4');
    assert.equal(other.status, 401, 'another address reaches the token endpoint (and is refused for its made-up client)');
    assert.equal(((await other.json()) as { error: string }).error, 'invalid_client');
    await waitOutRetryAfter(retryAfter);
    assert.notEqual((await tokenRequest(gw.url, '203.0.113.3')).status, 429);
  });

  it('limits password sign-in posts per client IP (an HTML page with Retry-After); another IP signs in; it resets', async () => {
    const client = await registeredFrom(gw, '198.51.100.70');
    const url = () => authorizeUrl(gw.url, { client, challenge: pkcePair().challenge, method: 'S256', resource: `${gw.url}/mcp/demo` });
    const guesser = new ForwardedBrowser(gw.url, '198.51.100.7');
    let step = await guesser.follow(url());
    for (let i = 0; i < 3; i++) {
      step = await guesser.submit(step.url, step.page!, interactionAction(step.page!, 'login'), {
        email: 'nobody@example.com',
        password: `guess ${i}`,
      });
      assert.equal(step.response?.status, 401);
    }
    const limited = await guesser.submit(step.url, step.page!, interactionAction(step.page!, 'login'), {
      email: 'nobody@example.com',
      password: 'guess 3',
    });
    assert.equal(limited.response?.status, 429);
    const retryAfter = Number(limited.response?.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= LOGIN_WINDOW_SECONDS);
    assert.match(limited.page!, /Too many sign-in attempts/);
    const event = auditEvents('login.rate_limited').at(-1)!;
    assert.equal(event.audit, true);
    assert.equal(event.outcome, 'failure');
    assert.equal(event.who, 'nobody@example.com');
    assert.equal(event.ip, '198.51.100.7');
    assert.equal(auditEvents('login.failed').length, 3, 'the refused post is not also a failed password (the throttle does not count it)');

    const landed = await authorizeWithPassword(new ForwardedBrowser(gw.url, '198.51.100.8'), url(), ALICE);
    assert.ok(landed.searchParams.get('code'), 'another address signs in');
    await waitOutRetryAfter(retryAfter);
    const again = await authorizeWithPassword(new ForwardedBrowser(gw.url, '198.51.100.7'), url(), ALICE);
    assert.ok(again.searchParams.get('code'), 'the window has passed');
  });

  it('counts upstream sign-in starts in the same per-IP login limit', async () => {
    const client = await registeredFrom(gw, '198.51.100.90');
    const browser = new ForwardedBrowser(gw.url, '198.51.100.9');
    const chooser = await browser.follow(
      authorizeUrl(gw.url, { client, challenge: pkcePair().challenge, method: 'S256', resource: `${gw.url}/mcp/demo` }),
    );
    const start = /href="(\/interaction\/[^"]+\/upstream\/github)"/.exec(chooser.page!)![1]!;
    const failed = await browser.submit(chooser.url, chooser.page!, interactionAction(chooser.page!, 'login'), {
      email: 'nobody@example.com',
      password: 'guess',
    });
    assert.equal(failed.response?.status, 401);
    for (let i = 0; i < 2; i++) {
      const response = await browser.request(`${gw.url}${start}`);
      assert.equal(response.status, 303, 'sent on to GitHub');
      assert.ok(response.headers.get('location')?.startsWith(github.url));
    }
    const limited = await browser.request(`${gw.url}${start}`);
    await expect429(limited, LOGIN_WINDOW_SECONDS);
    const event = auditEvents('login.rate_limited').at(-1)!;
    assert.equal(event.method, 'github');
    assert.equal(event.ip, '198.51.100.9');
  });

  it('limits MCP POSTs per person with a JSON-RPC error; another person goes on; it resets', async () => {
    const [alice, bob] = [await obtainTokens(gw.url, 'demo', ALICE), await obtainTokens(gw.url, 'demo', BOB)];
    const mcp = new McpTestClient(`${gw.url}/mcp/demo`, alice.access_token);
    await mcp.initialize(); // 2 POSTs: initialize and notifications/initialized
    for (let i = 0; i < 3; i++) assert.ok((await mcp.request('tools/list')).result);
    const refused = await mcp.post({ jsonrpc: '2.0', id: 99, method: 'tools/list' }, { 'x-forwarded-for': '192.0.2.55' });
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter}`);
    const error = refused.messages[0] as {
      jsonrpc: string;
      id: null;
      error: { code: number; message: string; data: { retryAfter: number } };
    };
    assert.equal(error.jsonrpc, '2.0');
    assert.equal(error.id, null);
    assert.equal(error.error.code, -31029);
    assert.match(error.error.message, /at most 5 MCP requests per 2s per person/);
    assert.equal(error.error.data.retryAfter, retryAfter);
    const event = auditEvents('rate_limited').find((line) => line.limit === 'mcp')!;
    assert.equal(event.sub, decodeSub(alice.access_token));
    assert.equal(event.ip, '192.0.2.55', 'the client IP is taken from X-Forwarded-For sent by the trusted proxy');

    const other = new McpTestClient(`${gw.url}/mcp/demo`, bob.access_token);
    await other.initialize();
    assert.ok((await other.request('tools/list')).result, 'another person is not affected');
    await waitOutRetryAfter(retryAfter);
    assert.ok((await mcp.request('tools/list')).result, 'the window has passed');

    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    for (const limit of ['login', 'register', 'token', 'mcp'])
      assert.match(metrics, new RegExp(`^${METRIC_NAMES.rateLimited}\\{limit="${limit}"\\} [1-9]`, 'm'));
  });

  it('takes the client IP like Express does with trustProxy', () => {
    const req = (remoteAddress: string, forwarded?: string) =>
      ({ socket: { remoteAddress }, headers: forwarded ? { 'x-forwarded-for': forwarded } : {} }) as unknown as IncomingMessage;
    assert.equal(clientIp(req('127.0.0.1', '203.0.113.9'), false), '127.0.0.1', 'without trustProxy the header is ignored');
    assert.equal(clientIp(req('127.0.0.1', '203.0.113.9'), true), '203.0.113.9');
    assert.equal(
      clientIp(req('127.0.0.1', '1.2.3.4, 203.0.113.9, 10.0.0.7'), true),
      '203.0.113.9',
      'the nearest hop that is not a trusted proxy',
    );
    assert.equal(clientIp(req('::ffff:127.0.0.1', '203.0.113.9'), true), '203.0.113.9');
    assert.equal(
      clientIp(req('198.51.100.1', '203.0.113.9'), true),
      '198.51.100.1',
      'a public peer is not a trusted proxy: its header is not believed',
    );
    assert.equal(clientIp(req('10.1.2.3', '192.168.1.1, fe80::1'), true), '192.168.1.1', 'all trusted: the farthest hop');
    assert.equal(clientIp(req('127.0.0.1'), true), '127.0.0.1');
  });
});

describe('rate limits on Redis', () => {
  let redis: TestRedis;
  let a: TestGateway;
  let b: TestGateway;
  let bDirect: string;
  before(async () => {
    redis = await startRedis();
    const shared = {
      storage: redis.url,
      trustProxy: true,
      rateLimits: { token: { limit: 3, window: '5s' }, mcp: { limit: 4, window: '5s' } },
    };
    a = await startTestGateway(shared);
    // Replicas behind one load balancer: one publicUrl (so tokens work on both), two addresses.
    b = await startTestGateway({ ...shared, publicUrl: a.url, listen: { host: '127.0.0.1', port: await freePort() } });
    bDirect = `http://127.0.0.1:${b.running.address.port}`;
  });
  after(async () => {
    await a.close();
    await b.close();
    await redis.stop();
  });

  it('shares one window between gateways on the same Redis', async () => {
    const ip = '203.0.113.77';
    assert.notEqual((await tokenRequest(a.url, ip)).status, 429);
    assert.notEqual((await tokenRequest(bDirect, ip)).status, 429);
    assert.notEqual((await tokenRequest(a.url, ip)).status, 429);
    assert.equal((await tokenRequest(bDirect, ip)).status, 429, 'the fourth request, on the other gateway, is over the shared limit');
    assert.equal((await tokenRequest(a.url, ip)).status, 429);
    const probe = new Redis(redis.url);
    try {
      assert.deepEqual(await probe.keys('mcpgw:ratelimit:token:*'), [`mcpgw:ratelimit:token:${ip}`]);
    } finally {
      probe.disconnect();
    }
  });

  it('shares the per-person MCP limit too, counted without waiting for Redis', async () => {
    const { access_token } = await obtainTokens(a.url, 'demo', ALICE);
    const [onA, onB] = [new McpTestClient(`${a.url}/mcp/demo`, access_token), new McpTestClient(`${bDirect}/mcp/demo`, access_token)];
    await onA.initialize(); // 2 of the 4
    await onB.initialize(); // 4 of the 4
    for (const mcp of [onA, onB]) {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await mcp.post({ jsonrpc: '2.0', id: 100 + i, method: 'tools/list' })).status);
      assert.ok(
        statuses.filter((status) => status === 200).length <= 1,
        `at most one request past the shared limit per gateway: ${statuses.join(', ')}`,
      );
      assert.equal(statuses.at(-1), 429, statuses.join(', '));
    }
  });
});

function decodeSub(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub;
}
