import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { METRIC_NAMES } from '../src/observability/metrics.js';
import { routeOf } from '../src/observability/routes.js';
import { packageRoot } from '../src/paths.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser, interactionAction } from './helpers/http-browser.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { authorizeUrl, exchangeCode, pkcePair, refresh, registerClient } from './helpers/oauth-client.js';
import { obtainTokens } from './helpers/tokens.js';
import { countOf, untilRunningMoreThan } from './helpers/bridge-fixture.js';
import { waitFor } from './helpers/wait.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/** The value of one series in Prometheus text, or undefined when it is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => present[k] === v)) return Number(match[3]);
  }
  return undefined;
}

function labelValues(text: string, name: string, label: string): Set<string> {
  const values = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1];
    if (value !== undefined) values.add(value);
  }
  return values;
}

describe('metrics', () => {
  describe('off by default', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway();
    });
    after(async () => {
      await gw.close();
    });

    it('has no /metrics at all', async () => {
      assert.equal(gw.running.gateway.metrics, undefined);
      assert.equal(gw.running.gateway.metricsAddress, undefined);
      const response = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      assert.equal(response.status, 404);
      await response.body?.cancel();
    });
  });

  describe('on a separate listener', () => {
    let gw: TestGateway;
    let metricsUrl: string;
    let accessToken: string;
    let refreshToken: string;
    let client: Awaited<ReturnType<typeof registerClient>>;
    const scrape = async () => {
      const response = await fetch(metricsUrl);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return response.text();
    };

    before(async () => {
      gw = await startTestGateway({
        metrics: { listen: { host: '127.0.0.1', port: 0 } },
        mcpServers: { tools: { ...fixture, isolation: 'per-user', callTimeout: '1s' } },
      });
      const address = gw.running.gateway.metricsAddress!;
      metricsUrl = `http://127.0.0.1:${address.port}/metrics`;
      const resource = `${gw.url}/mcp/tools`;
      client = await registerClient(gw.url, {
        redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
        token_endpoint_auth_method: 'none',
      });
      const { verifier, challenge } = pkcePair();
      // One wrong password first, then the right one.
      const browser = new HttpBrowser(gw.url);
      const page = await browser.follow(authorizeUrl(gw.url, { client, challenge, method: 'S256', resource }));
      const refused = await browser.submit(page.url, page.page!, interactionAction(page.page!, 'login'), {
        email: ALICE.email,
        password: 'wrong password',
      });
      assert.equal(refused.response?.status, 401);
      const landed = await authorizeWithPassword(
        new HttpBrowser(gw.url),
        authorizeUrl(gw.url, { client, challenge, method: 'S256', resource }),
        ALICE,
      );
      const tokens = await exchangeCode(gw.url, client, landed.searchParams.get('code')!, verifier);
      const refreshed = await refresh(gw.url, client, tokens.body.refresh_token!);
      assert.equal(refreshed.status, 200);
      accessToken = refreshed.body.access_token!;
      refreshToken = refreshed.body.refresh_token!;
    });
    after(async () => {
      await gw.close();
    });

    it('serves only GET /metrics there, and nothing on the main port', async () => {
      const main = await fetch(`${gw.url}/metrics`);
      assert.equal(main.status, 404);
      await main.body?.cancel();
      const elsewhere = await fetch(metricsUrl.replace('/metrics', '/healthz'));
      assert.equal(elsewhere.status, 404);
      await elsewhere.body?.cancel();
      const text = await scrape();
      assert.match(text, /# TYPE mcpgw_http_requests_total counter/);
      assert.match(text, /# TYPE mcpgw_tool_call_duration_seconds histogram/);
      assert.ok(sample(text, 'process_resident_memory_bytes')! > 0, 'Node process metrics too');
    });

    it('counts tool calls by server, tool and outcome, with a latency histogram', async () => {
      const mcp = new McpTestClient(`${gw.url}/mcp/tools`, accessToken);
      await mcp.initialize();
      await mcp.request('tools/list');
      for (let i = 0; i < 3; i++) assert.equal((await mcp.callTool('echo', { text: `hi ${i}` })).result?.content?.[0]?.text, `hi ${i}`);
      await mcp.callTool('slow_echo', { text: 'slow', ms: 120 });
      const unknown = await mcp.callTool(`no_such_tool_${Date.now()}`);
      assert.ok(unknown.error || unknown.result?.isError, 'an unknown tool fails');
      const timedOut = await mcp.callTool('hang');
      assert.equal(timedOut.error?.code, -32001);
      // A cancelled call gets no answer; the client drops its request, as SDK clients do. Once the
      // timed-out call has been cancelled in the process too, the next one to run there is this one.
      await waitFor(async () => (await countOf(mcp, 'running_count')) === 0, { message: 'the timed-out call to be cancelled' });
      const abort = new AbortController();
      const pending = fetch(mcp.endpoint, {
        method: 'POST',
        headers: mcp.headers(),
        body: JSON.stringify({ jsonrpc: '2.0', id: 'cancel-me', method: 'tools/call', params: { name: 'hang', arguments: {} } }),
        signal: abort.signal,
      });
      void pending.catch(() => {});
      await untilRunningMoreThan(mcp, 0);
      await mcp.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'cancel-me', reason: 'test' } });
      abort.abort();
      const crashed = await mcp.callTool('crash');
      assert.match(crashed.error?.message ?? '', /stopped unexpectedly/);
      assert.ok((await mcp.callTool('whoami')).result, 'restarted');

      let text = '';
      const calls = (tool: string, outcome: string) => sample(text, METRIC_NAMES.toolCalls, { server: 'tools', tool, outcome });
      const recorded = async () => ((text = await scrape()), calls('whoami', 'ok') === 1 && calls('hang', 'cancelled') === 1);
      await waitFor(recorded, { message: () => `the calls to be counted:\n${text}` });
      assert.equal(calls('echo', 'ok'), 3);
      assert.equal(calls('slow_echo', 'ok'), 1);
      assert.equal(calls('other', 'error'), 1, 'a tool name the server never offered is not a label');
      assert.equal(calls('hang', 'timeout'), 1);
      assert.equal(calls('hang', 'cancelled'), 1);
      assert.equal(calls('crash', 'crashed'), 1);
      assert.equal(calls('whoami', 'ok'), 1);
      const bucket = (le: string) =>
        sample(text, `${METRIC_NAMES.toolCallDuration}_bucket`, { server: 'tools', tool: 'slow_echo', outcome: 'ok', le });
      assert.equal(bucket('0.1'), 0, 'a 120 ms call is not under 100 ms');
      assert.equal(bucket('0.25'), 1);
      assert.equal(bucket('+Inf'), 1);
      const sum = sample(text, `${METRIC_NAMES.toolCallDuration}_sum`, { server: 'tools', tool: 'slow_echo', outcome: 'ok' })!;
      assert.ok(sum >= 0.12 && sum < 1, `slow_echo took ${sum}s`);
      assert.equal(sample(text, `${METRIC_NAMES.toolCallDuration}_count`, { server: 'tools', tool: 'hang', outcome: 'timeout' }), 1);
      assert.ok(
        sample(text, `${METRIC_NAMES.toolCallDuration}_sum`, { server: 'tools', tool: 'hang', outcome: 'timeout' })! >= 0.95,
        'a timeout takes callTimeout',
      );
      assert.equal(sample(text, METRIC_NAMES.stdioRestarts, { server: 'tools' }), 1);
      assert.equal(sample(text, METRIC_NAMES.sessions, { server: 'tools' }), 1);
      assert.equal(sample(text, METRIC_NAMES.stdioProcesses, { server: 'tools' }), 1);
      assert.equal(await mcp.close(), 200);
      assert.equal(sample(await scrape(), METRIC_NAMES.sessions, { server: 'tools' }), 0, 'the gauge follows the bridge');
    });

    it('counts requests by a fixed set of routes and status, never raw paths', async () => {
      const text = await scrape();
      const requests = (route: string, method: string, status: string) =>
        sample(text, METRIC_NAMES.httpRequests, { route, method, status });
      assert.equal(requests('/token', 'POST', '200'), 2);
      assert.equal(requests('/register', 'POST', '201'), 1);
      assert.equal(requests('/interaction/:uid/login', 'POST', '401'), 1);
      assert.ok(requests('/mcp/:server', 'POST', '200')! >= 10);
      assert.ok(requests('/mcp/:server', 'DELETE', '200')! >= 1);
      const routes = labelValues(text, METRIC_NAMES.httpRequests, 'route');
      for (const route of routes) assert.match(route, /^(\/[a-z./_-]*(:[a-z_]+)?)+$|^other$/, `route label ${route}`);
      assert.ok(![...routes].some((route) => /[A-Za-z0-9_-]{16,}/.test(route)), `no ids in route labels: ${[...routes].join(', ')}`);
    });

    it('counts tokens issued and refreshed, revoked grants and sign-ins', async () => {
      const revoked = await fetch(`${gw.url}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token', client_id: client.client_id }),
      });
      assert.equal(revoked.status, 200);
      const text = await scrape();
      assert.equal(sample(text, METRIC_NAMES.tokensIssued, { grant_type: 'authorization_code' }), 1);
      assert.equal(sample(text, METRIC_NAMES.tokensIssued, { grant_type: 'refresh_token' }), 1);
      assert.equal(sample(text, METRIC_NAMES.grantsRevoked), 1);
      assert.equal(sample(text, METRIC_NAMES.logins, { method: 'password' }), 1);
      assert.equal(sample(text, METRIC_NAMES.loginFailures, { method: 'password', reason: 'bad_credentials' }), 1);
    });
  });

  describe('on the main port behind a bearer token', () => {
    let gw: TestGateway;
    let other: TestGateway;
    before(async () => {
      [gw, other] = await Promise.all([
        startTestGateway({ metrics: { token: METRICS_TOKEN } }),
        startTestGateway({ metrics: { token: METRICS_TOKEN } }),
      ]);
    });
    after(async () => {
      await Promise.all([gw.close(), other.close()]);
    });

    it('answers 401 without the token or with another, 200 with it', async () => {
      const attempts: Array<Record<string, string>> = [
        {},
        { authorization: 'Bearer wrong-token-0123456789abcdef' },
        { authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` },
      ];
      for (const headers of attempts) {
        const response = await fetch(`${gw.url}/metrics`, { headers });
        assert.equal(response.status, 401);
        assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
        await response.body?.cancel();
      }
      const response = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      assert.equal(response.status, 200);
      assert.match(await response.text(), /# TYPE mcpgw_tokens_issued_total counter/);
    });

    it("keeps each gateway's series apart in one process (a registry per gateway)", async () => {
      await obtainTokens(gw.url, 'demo', BOB);
      const read = async (target: TestGateway) =>
        (await fetch(`${target.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      assert.equal(sample(await read(gw), METRIC_NAMES.tokensIssued, { grant_type: 'authorization_code' }), 1);
      assert.equal(sample(await read(other), METRIC_NAMES.tokensIssued, { grant_type: 'authorization_code' }), undefined);
    });
  });

  it('labels requests by route pattern', () => {
    const cases: Array<[string, string]> = [
      ['/token', '/token'],
      ['/interaction/abc123def456/login', '/interaction/:uid/login'],
      ['/interaction/abc123def456', '/interaction/:uid'],
      ['/interaction/abc/upstream/google', '/interaction/:uid/upstream/:provider'],
      ['/interaction/abc/whatever/else', 'other'],
      ['/login/okta/callback', '/login/:provider/callback'],
      ['/authorize/xyz', '/authorize/:uid'],
      ['/register/client-id', '/register/:client_id'],
      ['/.well-known/oauth-protected-resource/mcp/demo', '/.well-known/oauth-protected-resource/mcp/:server'],
      ['/mcp/demo', '/mcp/:server'],
      ['/wp-admin/index.php', 'other'],
    ];
    for (const [path, route] of cases) assert.equal(routeOf(path), route, path);
  });
});
