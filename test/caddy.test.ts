/* eslint-disable max-lines -- the deployment files (Caddyfile, compose, example config, Dockerfile) checked against one running Caddy */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { hashPassword } from '../src/authz/password-hash.js';
import type { JsonRpcMessage } from '../src/mcp/jsonrpc.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { packageRoot } from '../src/paths.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser, interactionAction } from './helpers/http-browser.js';
import { McpTestClient, parseSse } from './helpers/mcp-client.js';
import { authorizeUrl, exchangeCode, pkcePair, registerClient } from './helpers/oauth-client.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { unlessThrows, waitFor } from './helpers/wait.js';

/**
 * The production setup (Caddyfile, docker-compose.yml) with the real Caddy (Debian's `caddy`): the deploy Caddyfile
 * itself, with only its site address (plain HTTP on loopback instead of a domain with automatic
 * HTTPS) and upstream addresses changed, in front of two gateway replicas sharing a Redis.
 * Docker is not available here, so the compose file and the Dockerfile are checked as files.
 */

const deployDir = packageRoot;
const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const REDIRECT = 'https://claude.ai/api/mcp/auth_callback';
/** A client address other than Caddy's own 127.0.0.1 (all of 127/8 is loopback on Linux). */
const CLIENT_ADDRESS = '127.0.0.7';

/** Runs the caddy CLI with its state in `home`, never the machine's. */
function caddyEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CONFIG_HOME: join(home, 'config'), ...extra };
}

function caddyCli(home: string, args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('caddy', args, { env: caddyEnv(home, env), encoding: 'utf8', timeout: 20_000 });
  if (result.error) throw new Error(`caddy could not run (install it: apt-get install -y caddy): ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every object in a JSON tree. */
function* objects(value: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(value)) for (const item of value) yield* objects(item);
  else if (value && typeof value === 'object') {
    yield value as Record<string, unknown>;
    for (const item of Object.values(value)) yield* objects(item);
  }
}

/** A request from a chosen local address (fetch cannot pick one without an undici Agent). */
function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      url,
      { method: init.method ?? 'GET', headers: init.headers, localAddress, agent: false },
      (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/**
 * A sign-in with a wrong password, every request sent from `localAddress` (and, if given, with
 * a forged X-Forwarded-For). The gateway logs the address it attributes the failure to.
 */
async function failLoginFrom(base: string, localAddress: string, forgedForwardedFor?: string): Promise<number> {
  const client = await registerClient(base, {
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'none',
    client_name: 'Wrong password',
  });
  const { challenge } = pkcePair();
  const cookies = new Map<string, string>();
  const send = async (url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) => {
    const headers: Record<string, string> = { ...init.headers, cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    if (forgedForwardedFor) headers['x-forwarded-for'] = forgedForwardedFor;
    const answer = await requestFrom(localAddress, url, { ...init, headers });
    for (const line of answer.headers['set-cookie'] ?? []) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const value = pair!.slice(at + 1);
      if (value) cookies.set(pair!.slice(0, at).trim(), value);
      else cookies.delete(pair!.slice(0, at).trim());
    }
    return answer;
  };
  let url = authorizeUrl(base, { client, challenge, method: 'S256' });
  let answer = await send(url);
  for (let hops = 0; answer.status >= 300 && answer.status < 400 && hops < 10; hops++) {
    url = new URL(answer.headers.location!, url).toString();
    answer = await send(url);
  }
  assert.equal(answer.status, 200, answer.body.slice(0, 300));
  const csrf = /name="csrf" value="([^"]+)"/.exec(answer.body)?.[1] ?? '';
  const action = new URL(interactionAction(answer.body, 'login'), url).toString();
  const refused = await send(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ csrf, email: BOB.email, password: 'not the password' }).toString(),
  });
  return refused.status;
}

/** The addresses the gateways logged for failed password logins. */
function failedLoginAddresses(gateways: TestGateway[]): string[] {
  return gateways.flatMap((gateway) =>
    gateway.logs.lines
      .map((line) => JSON.parse(line) as { event?: string; ip?: string })
      .filter((entry) => entry.event === 'login.failed')
      .map((entry) => entry.ip ?? '?'),
  );
}

describe('production deployment: Caddyfile in front of two replicas', () => {
  let home: string;
  let redis: TestRedis;
  const replicas: TestGateway[] = [];
  let untrusting: TestGateway;
  let caddy: ChildProcess | undefined;
  let caddyOutput = '';
  let publicUrl = '';
  let untrustingUrl = '';
  /** MCP requests per replica, as Caddy sent them and as another replica forwarded them. */
  const mcpRequests = [
    { direct: 0, forwarded: 0 },
    { direct: 0, forwarded: 0 },
  ];
  let accessToken = '';

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'gw-caddy-'));
    redis = await startRedis();
    const [caddyPort, untrustingPort, portA, portB] = [await freePort(), await freePort(), await freePort(), await freePort()];
    publicUrl = `http://127.0.0.1:${caddyPort}`;
    untrustingUrl = `http://127.0.0.1:${untrustingPort}`;
    for (const [index, port] of [portA!, portB!].entries()) {
      const replica = await startTestGateway({
        publicUrl,
        listen: { host: '127.0.0.1', port },
        storage: redis.url,
        trustProxy: true,
        cluster: { advertiseUrl: `http://127.0.0.1:${port}` },
        shutdownDeadline: '1s',
        mcpServers: { tools: fixture },
      });
      replica.running.server.on('request', (req: IncomingMessage) => {
        if (!req.url?.startsWith('/mcp/')) return;
        if (req.headers['x-mcpgw-forwarded']) mcpRequests[index]!.forwarded++;
        else mcpRequests[index]!.direct++;
      });
      replicas.push(replica);
    }
    // The same gateway without trustProxy, behind a second site of the same Caddy.
    untrusting = await startTestGateway({ publicUrl: untrustingUrl, shutdownDeadline: '1s' });

    const deployed = readFileSync(join(deployDir, 'Caddyfile'), 'utf8');
    assert.match(deployed, /^\{\$MCP_DOMAIN\} \{$/m, 'the site address comes from MCP_DOMAIN');
    const caddyfile = `${deployed
      // The machine's Caddy and its ports stay untouched: no admin endpoint, no certificates.
      .replace(/^\{$/m, '{\n\tadmin off\n\tauto_https off')
      .replace(/\bgateway-(\d+):8080\b/g, (_match, n: string) => `127.0.0.1:${[portA, portB][Number(n) - 1]}`)}
http://127.0.0.1:${untrustingPort} {
	reverse_proxy 127.0.0.1:${untrusting.config.listen.port}
}
`;
    assert.doesNotMatch(caddyfile, /gateway-\d+:8080/);
    const file = join(home, 'Caddyfile');
    writeFileSync(file, caddyfile);
    caddy = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], {
      env: caddyEnv(home, { MCP_DOMAIN: publicUrl }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    caddy.stdout!.on('data', (d) => {
      caddyOutput += d;
    });
    caddy.stderr!.on('data', (d) => {
      caddyOutput += d;
    });
    caddy.on('error', (error) => {
      caddyOutput += `\n${error.message} (install it: apt-get install -y caddy)`;
    });
    await waitFor(
      () => {
        if (caddy!.exitCode !== null || caddyOutput.includes('ENOENT')) throw new Error(`caddy exited:\n${caddyOutput}`);
        return unlessThrows(async () => (await fetch(`${publicUrl}/healthz`)).ok && (await fetch(`${untrustingUrl}/healthz`)).ok);
      },
      { timeout: 15_000, message: () => `caddy to start:\n${caddyOutput}` },
    );
  });

  after(async () => {
    if (caddy?.pid !== undefined && caddy.exitCode === null && caddy.signalCode === null) {
      const exited = new Promise((r) => caddy!.once('exit', r));
      caddy.kill('SIGTERM');
      await exited;
    }
    await Promise.all([...replicas, untrusting].filter(Boolean).map((gateway) => gateway.close()));
    await redis?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('Caddyfile validates, and adapts to streaming, per-replica health checks and both replicas', () => {
    const env = { MCP_DOMAIN: 'mcp.example.com' };
    const validated = caddyCli(home, ['validate', '--adapter', 'caddyfile', '--config', join(deployDir, 'Caddyfile')], env);
    assert.equal(validated.status, 0, validated.stderr);
    assert.match(`${validated.stdout}${validated.stderr}`, /Valid configuration/);

    const adapted = caddyCli(home, ['adapt', '--adapter', 'caddyfile', '--config', join(deployDir, 'Caddyfile')], env);
    assert.equal(adapted.status, 0, adapted.stderr);
    const json = JSON.parse(adapted.stdout) as unknown;
    const proxies = [...objects(json)].filter((o) => o.handler === 'reverse_proxy');
    assert.equal(proxies.length, 1);
    const proxy = proxies[0] as {
      flush_interval?: number;
      upstreams?: Array<{ dial: string }>;
      health_checks?: { active?: { uri?: string }; passive?: { fail_duration?: number } };
      load_balancing?: { selection_policy?: { policy?: string }; try_duration?: number };
      buffer_requests?: boolean;
      buffer_responses?: boolean;
      request_buffers?: number;
      response_buffers?: number;
    };
    assert.equal(proxy.flush_interval, -1, 'SSE events are flushed at once');
    assert.ok(!proxy.buffer_requests && !proxy.buffer_responses && !proxy.request_buffers && !proxy.response_buffers, 'no buffering');
    assert.equal(proxy.health_checks?.active?.uri, '/healthz');
    assert.ok(proxy.health_checks?.passive?.fail_duration);
    assert.ok(proxy.load_balancing?.try_duration, 'a request to a replica that is down is retried on another');
    const servers = [...objects(json)].filter((o) => Array.isArray(o.routes) && Array.isArray(o.listen));
    assert.ok(servers.length > 0);
    for (const server of servers)
      assert.equal(server.write_timeout, undefined, 'no write timeout: a stream stays open while its call runs');
    const site = [...objects(json)].find((o) => Array.isArray(o.host));
    assert.deepEqual(site?.host, ['mcp.example.com'], 'the domain comes from MCP_DOMAIN (and gets a certificate automatically)');

    // The upstreams are exactly the gateway services of the compose file.
    const compose = parseYaml(readFileSync(join(deployDir, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, unknown>;
    };
    const gatewayServices = Object.keys(compose.services).filter((name) => /^gateway-\d+$/.test(name));
    assert.deepEqual(proxy.upstreams?.map((u) => u.dial).sort(), gatewayServices.map((name) => `${name}:8080`).sort());
  });

  it('docker-compose.yml: two gateway replicas, Redis with AOF, Caddy with the Caddyfile and certificate volumes', () => {
    type Service = Record<string, any>;
    const compose = parseYaml(readFileSync(join(deployDir, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, Service>;
      volumes?: Record<string, unknown>;
    };
    const { services } = compose;
    const gateways = Object.keys(services).filter((name) => /^gateway-\d+$/.test(name));
    assert.deepEqual(gateways, ['gateway-1', 'gateway-2'], 'two replicas');
    assert.deepEqual(
      Object.keys(services)
        .filter((name) => !gateways.includes(name))
        .sort(),
      ['caddy', 'redis'],
    );
    const volumeNames = Object.keys(compose.volumes ?? {});

    for (const name of gateways) {
      const gateway = services[name]!;
      assert.equal(gateway.hostname, name, 'HOSTNAME (advertiseUrl) is the name the other replica and Caddy reach it by');
      assert.equal(gateway.ports, undefined, 'the gateway port is never published: it trusts X-Forwarded-For');
      assert.equal(gateway.build.context, '.');
      assert.ok(gateway.healthcheck?.test, 'a healthcheck');
      assert.equal(gateway.depends_on?.redis?.condition, 'service_healthy');
      const config = (gateway.volumes as Array<Record<string, any>>).find((v) => v.target === '/etc/mcp-oauth-gateway/gateway.json');
      assert.equal(config?.source, './gateway.json');
      assert.equal(config?.read_only, true);
      const { hostname: _ignored, ...shared } = gateway;
      const { hostname: _first, ...sharedFirst } = services[gateways[0]!]!;
      assert.deepEqual(shared, sharedFirst, 'the replicas differ only in their hostname');
    }

    const redisService = services.redis!;
    assert.match(redisService.image, /^redis:7/);
    assert.ok(redisService.command.join(' ').includes('--appendonly yes'), 'AOF persistence');
    const redisVolume = (redisService.volumes as string[]).find((v) => v.endsWith(':/data'))?.split(':')[0];
    assert.ok(redisVolume && volumeNames.includes(redisVolume), 'Redis data on a named volume');
    assert.ok(redisService.healthcheck?.test);

    const caddyService = services.caddy!;
    assert.match(caddyService.image, /^caddy:2/);
    assert.ok(caddyService.ports.includes('80:80') && caddyService.ports.includes('443:443'));
    assert.ok(caddyService.volumes.includes('./Caddyfile:/etc/caddy/Caddyfile:ro'), 'the Caddyfile is mounted');
    for (const dir of ['/data', '/config']) {
      const volume = (caddyService.volumes as string[]).find((v) => v.endsWith(`:${dir}`))?.split(':')[0];
      assert.ok(volume && volumeNames.includes(volume), `Caddy's ${dir} (certificates) on a named volume`);
    }
  });

  it("docs/gateway.compose.example.json is the replicas' config; the Dockerfile ships what the gateway reads at run time", async () => {
    const example = JSON.parse(readFileSync(join(packageRoot, 'docs', 'gateway.compose.example.json'), 'utf8')) as Record<string, any>;
    const env = { MCP_DOMAIN: 'mcp.example.com', HOSTNAME: 'gateway-1' };
    assert.throws(
      () => parseConfig(example, 'example', env),
      (error: unknown) => error instanceof ConfigError && /passwordHash/.test(error.describe()),
      'left unedited, it fails on the password hash placeholder',
    );
    example.login.password.users[0].passwordHash = await hashPassword('twelve chars');
    const config = parseConfig(example, 'example', env);
    assert.equal(config.publicUrl, 'https://mcp.example.com');
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 });
    assert.equal(config.storage, 'redis://redis:6379/0');
    assert.equal(config.trustProxy, true);
    assert.equal(config.cluster?.advertiseUrl, 'http://gateway-1:8080');
    const demo = config.mcpServers.demo as { args: string[] };
    assert.ok(existsSync(resolve(packageRoot, demo.args[0]!.replace(/^\/app\//, ''))), 'the demo server is where the image has it');

    const dockerfile = readFileSync(join(packageRoot, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /npm ci --omit=dev --ignore-scripts/);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^EXPOSE 8080$/m);
    assert.match(dockerfile, /^HEALTHCHECK /m);
    assert.match(dockerfile, /"--config", "\/etc\/mcp-oauth-gateway\/gateway.json"/);
    // Everything package.json ships (but the README) is copied into the runtime image.
    const { files } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { files: string[] };
    for (const entry of files.filter((f) => f !== 'README.md')) {
      assert.ok(
        dockerfile.split('\n').some((line) => line.startsWith('COPY') && line.includes(entry)),
        `the image has ${entry}`,
      );
    }
    const ignored = readFileSync(join(packageRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', 'data', 'test-results', '.git'])
      assert.ok(ignored.includes(entry), `.dockerignore has ${entry}`);
  });

  it('OAuth through Caddy: discovery, registration, sign-in and token across both replicas', async () => {
    const metadata = (await (await fetch(`${publicUrl}/.well-known/oauth-authorization-server`)).json()) as {
      issuer: string;
      token_endpoint: string;
    };
    assert.equal(metadata.issuer, publicUrl);
    assert.equal(metadata.token_endpoint, `${publicUrl}/token`);
    const resource = `${publicUrl}/mcp/tools`;
    // Round robin: registration, the sign-in pages and the token request land on both replicas.
    const client = await registerClient(publicUrl, {
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      client_name: 'Behind Caddy',
    });
    const { verifier, challenge } = pkcePair();
    const landed = await authorizeWithPassword(
      new HttpBrowser(publicUrl),
      authorizeUrl(publicUrl, { client, challenge, method: 'S256', resource }),
      ALICE,
    );
    assert.equal(`${landed.origin}${landed.pathname}`, REDIRECT);
    assert.equal(landed.searchParams.get('iss'), publicUrl);
    const tokens = await exchangeCode(publicUrl, client, landed.searchParams.get('code')!, verifier, { resource });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    accessToken = tokens.body.access_token!;
    assert.ok(accessToken);
  });

  it('MCP through Caddy: progress arrives as SSE events while the call runs, on both replicas of one session', async () => {
    assert.ok(accessToken, 'needs the token of the previous test');
    const mcp = new McpTestClient(`${publicUrl}/mcp/tools`, accessToken);
    await mcp.initialize();
    const steps = 40; // the fixture sleeps 5 ms after each progress notification
    const owner = mcp.sessionId!.split('.')[0];
    for (const id of [101, 102]) {
      const started = performance.now();
      const response = await fetch(mcp.endpoint, {
        method: 'POST',
        headers: mcp.headers(),
        body: JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'progress', arguments: { steps, label: 'through caddy' }, _meta: { progressToken: `p${id}` } },
        }),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      const arrivals: Array<{ at: number; message: JsonRpcMessage }> = [];
      const decoder = new TextDecoder();
      let buffer = '';
      let chunks = 0;
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        chunks++;
        buffer += decoder.decode(chunk, { stream: true });
        for (let cut = buffer.indexOf('\n\n'); cut !== -1; cut = buffer.indexOf('\n\n')) {
          for (const message of parseSse(buffer.slice(0, cut + 2))) arrivals.push({ at: performance.now() - started, message });
          buffer = buffer.slice(cut + 2);
        }
      }
      const progress = arrivals.filter(({ message }) => 'method' in message && message.method === 'notifications/progress');
      const final = arrivals.at(-1)!;
      assert.equal(progress.length, steps, 'every progress notification came through');
      assert.ok('id' in final.message && final.message.id === id && 'result' in final.message, 'the result comes last');
      assert.equal((final.message as { result: { content: Array<{ text: string }> } }).result.content[0]!.text, 'done through caddy');
      const lead = final.at - progress[0]!.at;
      assert.ok(chunks > 1, `the body arrived in ${chunks} chunk(s)`);
      assert.ok(
        lead >= (steps * 5) / 2,
        `the first progress event arrived ${lead.toFixed(0)} ms before the result (streamed, not buffered by Caddy)`,
      );
    }

    // One session, whichever replica Caddy picks: the other forwards to the one holding it.
    const pids = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const { result, error } = await mcp.callTool('whoami');
      assert.equal(error, undefined);
      pids.add(result.content[0].text);
    }
    assert.equal(pids.size, 1, 'the same stdio process answered every call');
    assert.ok(
      mcpRequests[0]!.direct > 0 && mcpRequests[1]!.direct > 0,
      `Caddy balanced the session's requests over both replicas: ${JSON.stringify(mcpRequests)}`,
    );
    const ownerIndex = replicas.findIndex((r) =>
      r.logs.lines.some((line) => line.includes('"replica announced"') && line.includes(`"replica":"${owner}"`)),
    );
    assert.ok(ownerIndex >= 0, 'the session id names its replica');
    assert.ok(mcpRequests[ownerIndex]!.forwarded > 0, 'requests that reached the other replica were forwarded to the owner');
    assert.equal(await mcp.close(), 200);
  });

  it('client address: Caddy sets X-Forwarded-For, which the gateway uses only with trustProxy', async () => {
    // trustProxy: true: the login throttle and the log see the client, not Caddy.
    assert.equal(await failLoginFrom(publicUrl, CLIENT_ADDRESS), 401);
    assert.deepEqual(failedLoginAddresses(replicas), [CLIENT_ADDRESS]);
    // A forged X-Forwarded-For is replaced by Caddy, not passed on (else the gateway would believe it).
    assert.equal(await failLoginFrom(publicUrl, CLIENT_ADDRESS, '203.0.113.9'), 401);
    assert.deepEqual(failedLoginAddresses(replicas), [CLIENT_ADDRESS, CLIENT_ADDRESS]);
    // trustProxy: false (the default): every client is Caddy's address.
    assert.equal(await failLoginFrom(untrustingUrl, CLIENT_ADDRESS), 401);
    assert.deepEqual(failedLoginAddresses([untrusting]), ['127.0.0.1']);
  });
});
