import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startChatGptStandIn, type ChatGptStandIn } from './helpers/chatgpt-stand-in.js';
import { freePort } from './helpers/ports.js';

const CLI = resolve(packageRoot, 'dist/src/cli/main.js');
const INSPECTOR_ORIGIN = 'http://localhost:6274';

/** Every row a full run prints for server "demo": a row that goes missing is a regression too. */
const ALL_ROWS = [
  'https publicUrl',
  '401 on POST /mcp/demo',
  '401 on GET /mcp/demo',
  'resource metadata (path form)',
  'resource metadata (root form)',
  'AS metadata /.well-known/oauth-authorization-server',
  'AS metadata /.well-known/openid-configuration',
  'issuer = publicUrl',
  'https in metadata',
  'CORS preflight AS metadata',
  'CORS preflight resource metadata',
  'CORS preflight /register',
  'CORS preflight /token',
  'CORS on metadata responses',
  'CORS preflight /mcp/demo',
  'CORS on 401 /mcp/demo',
  'DCR ChatGPT (none)',
  'DCR ChatGPT (client_secret_post)',
  'DCR Claude.ai (client_secret_post)',
  'DCR Claude.ai (client_secret_basic)',
  'DCR Claude.ai (none)',
  'DCR MCP Inspector (none)',
  'DCR mcp-remote (none)',
  'DCR refuses http://evil.example/cb',
  'CIMD ChatGPT',
  'CIMD Claude.ai',
  'PKCE required',
  'PKCE plain refused',
  'replica addresses',
];
const CORS_ROWS = ALL_ROWS.filter((row) => row.startsWith('CORS'));

interface DoctorRow {
  ok: boolean;
  detail: string;
  fix?: string;
}
interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
  rows: Map<string, DoctorRow>;
}

/** Runs the real CLI, as a person would, and reads its table back by column position. */
function doctor(...args: string[]): Promise<DoctorRun> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [CLI, 'doctor', ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolvePromise({ code, stdout, stderr, rows: parseTable(stdout) });
    });
  });
}

function parseTable(stdout: string): Map<string, DoctorRow> {
  const lines = stdout.split('\n');
  const header = lines.findIndex((line) => /^check\s+result\s+detail$/.test(line));
  const rows = new Map<string, DoctorRow>();
  if (header < 0) return rows;
  const resultAt = lines[header]!.indexOf('result');
  const detailAt = lines[header]!.indexOf('detail');
  let last: DoctorRow | undefined;
  for (const line of lines.slice(header + 2)) {
    if (line === '') break;
    if (line.startsWith(' ')) {
      if (last) last.fix = line.trim().replace(/^fix: /, '');
      continue;
    }
    last = { ok: line.slice(resultAt, detailAt).trim() === '✓', detail: line.slice(detailAt) };
    rows.set(line.slice(0, resultAt).trim(), last);
  }
  return rows;
}

function failedRows(run: DoctorRun): string[] {
  return [...run.rows]
    .filter(([, row]) => !row.ok)
    .map(([name]) => name)
    .sort();
}

/** Exactly these rows failed, each with a fix; every other row passed. */
function assertFailures(run: DoctorRun, expected: string[]): void {
  assert.deepEqual([...run.rows.keys()].sort(), [...ALL_ROWS].sort(), run.stdout);
  assert.deepEqual(failedRows(run), [...expected].sort(), run.stdout);
  for (const name of expected) assert.ok(run.rows.get(name)!.fix, `${name} has no fix:\n${run.stdout}`);
  assert.equal(run.code, expected.length ? 1 : 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`^${ALL_ROWS.length - expected.length} passed, ${expected.length} failed$`, 'm'));
}

interface ProxyOptions {
  listenHost: string;
  port: number;
  gatewayPort: number;
  /** Drop every Access-Control-* header and answer OPTIONS 404, as a careless proxy does. */
  stripCors?: boolean;
  /** Rewrite this URL (as the gateway prints it) into that one in both directions, bodies and headers. */
  rewrite?: { gateway: string; outside: string; gatewayHost: string };
}

function replaceUrl(text: string, from: string, to: string): string {
  return text.split(from).join(to).split(encodeURIComponent(from)).join(encodeURIComponent(to));
}

/** A tiny reverse proxy in front of the gateway (bodies are buffered: doctor never opens a stream). */
async function startProxy(options: ProxyOptions): Promise<Server> {
  const { rewrite } = options;
  const inbound = (text: string) => (rewrite ? replaceUrl(text, rewrite.outside, rewrite.gateway) : text);
  const outbound = (text: string) => (rewrite ? replaceUrl(text, rewrite.gateway, rewrite.outside) : text);
  const server = createServer((req, res) => {
    if (options.stripCors && req.method === 'OPTIONS') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.from(inbound(Buffer.concat(chunks).toString('utf8')));
      const headers: IncomingHttpHeaders = { ...req.headers, 'content-length': String(body.length) };
      delete headers['accept-encoding'];
      delete headers['transfer-encoding'];
      if (rewrite) headers.host = rewrite.gatewayHost;
      const upstream = request(
        { host: '127.0.0.1', port: options.gatewayPort, method: req.method, path: inbound(req.url ?? '/'), headers },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            const out = Buffer.from(outbound(Buffer.concat(parts).toString('utf8')));
            const outHeaders: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(answer.headers)) {
              if (value === undefined || ['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) continue;
              if (options.stripCors && name.startsWith('access-control-')) continue;
              outHeaders[name] = Array.isArray(value) ? value.map(outbound) : outbound(value);
            }
            res.writeHead(answer.statusCode ?? 502, { ...outHeaders, 'content-length': String(out.length) }).end(out);
          });
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolvePromise) => server.listen(options.port, options.listenHost, resolvePromise));
  return server;
}

const closeServer = (server: Server | undefined) =>
  new Promise<void>((resolvePromise) => {
    if (!server) return resolvePromise();
    server.closeAllConnections();
    server.close(() => resolvePromise());
  });

/** An address of this machine that is not loopback, so that plain http to it is what the https rule forbids. */
function nonLoopbackAddress(): string {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((address) => address?.family === 'IPv4' && !address.internal);
  // Without a network interface, 0.0.0.0 still reaches this machine on Linux and is not a loopback name either.
  return external?.address ?? '0.0.0.0';
}

describe('doctor', () => {
  // ChatGPT's metadata document is fetched (not pinned): a stand-in chatgpt.com serves it to every gateway here.
  let chatgpt: ChatGptStandIn;
  before(async () => {
    chatgpt = await startChatGptStandIn();
  });
  after(() => chatgpt.close());

  describe('a correctly configured gateway', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({ allowedOrigins: [INSPECTOR_ORIGIN] }, { fetch: chatgpt.fetch });
    });
    after(async () => {
      await gw.close();
    });

    it('passes every check and exits 0', async () => {
      const run = await doctor(gw.url, '--server', 'demo');
      assertFailures(run, []);
      assert.match(run.rows.get('https publicUrl')!.detail, /loopback/);
      assert.match(run.rows.get('resource metadata (root form)')!.detail, /not served.*no client needs it/);
    });

    it('takes the connector URL instead of --server, and never prints a client secret', async () => {
      const run = await doctor(`${gw.url}/mcp/demo`);
      assertFailures(run, []);
      assert.match(run.rows.get('DCR Claude.ai (client_secret_basic)')!.detail, /secret issued \(not shown\)/);
      assert.doesNotMatch(run.stdout + run.stderr, /client_secret"|registration_access_token/);
      const register = gw.logs.lines.filter((line) => line.includes('"event":"register"')).length;
      assert.ok(register >= 7, `doctor registered ${register} clients`);
    });

    it('asks for the server when it cannot find one, with exit code 2', async () => {
      const run = await doctor(gw.url);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /which MCP server\? .*--server NAME/);
      assert.equal(run.rows.size, 0);
    });

    it('names an unknown server', async () => {
      const run = await doctor(gw.url, '--server', 'nope');
      assert.equal(run.code, 1);
      assert.match(run.rows.get('401 on POST /mcp/nope')!.fix!, /no MCP server named "nope"/);
      assert.equal(run.rows.get('resource metadata (path form)')!.ok, false);
    });
  });

  describe('publicUrl differs from the URL clients use', () => {
    let gw: TestGateway;
    let port: number;
    before(async () => {
      port = await freePort();
      gw = await startTestGateway(
        {
          publicUrl: `http://localhost:${port}`,
          listen: { host: '127.0.0.1', port },
          allowedOrigins: [INSPECTOR_ORIGIN],
        },
        { fetch: chatgpt.fetch },
      );
    });
    after(async () => {
      await gw.close();
    });

    it('fails on the issuer, the challenge and the resource metadata, saying which URL to fix', async () => {
      const run = await doctor(`http://127.0.0.1:${port}`, '--server', 'demo');
      assertFailures(run, [
        'issuer = publicUrl',
        '401 on POST /mcp/demo',
        '401 on GET /mcp/demo',
        'resource metadata (path form)',
        'CIMD ChatGPT',
        'CIMD Claude.ai',
      ]);
      const issuer = run.rows.get('issuer = publicUrl')!;
      assert.match(issuer.detail, new RegExp(`says issuer http://localhost:${port}$`));
      const mismatch = `metadata says issuer http://localhost:${port} but you asked http://127.0.0.1:${port}`;
      assert.equal(issuer.fix, `publicUrl in gateway.json must be exactly the URL clients use: ${mismatch}`);
      assert.match(run.rows.get('401 on POST /mcp/demo')!.fix!, /publicUrl in gateway.json must be exactly the URL clients use/);
      assert.match(run.rows.get('CIMD Claude.ai')!.detail, /invalid_target/);
    });
  });

  describe('a proxy in front that strips CORS', () => {
    let gw: TestGateway;
    let proxy: Server;
    before(async () => {
      const [proxyPort, gatewayPort] = [await freePort(), await freePort()];
      // Clients reach the gateway through the proxy, so that is its publicUrl: only CORS is wrong.
      gw = await startTestGateway(
        {
          publicUrl: `http://127.0.0.1:${proxyPort}`,
          listen: { host: '127.0.0.1', port: gatewayPort },
          allowedOrigins: [INSPECTOR_ORIGIN],
        },
        { fetch: chatgpt.fetch },
      );
      proxy = await startProxy({ listenHost: '127.0.0.1', port: proxyPort, gatewayPort, stripCors: true });
    });
    after(async () => {
      await closeServer(proxy);
      await gw.close();
    });

    it('fails every CORS row and nothing else', async () => {
      const run = await doctor(gw.url, '--server', 'demo');
      assertFailures(run, CORS_ROWS);
      assert.match(run.rows.get('CORS preflight /register')!.detail, /OPTIONS answered HTTP 404/);
      assert.match(run.rows.get('CORS preflight /token')!.fix!, /a proxy in front strips CORS headers/);
      assert.match(run.rows.get('CORS on metadata responses')!.fix!, /pass Access-Control-\* through/);
    });
  });

  describe('plain http on a host that is not loopback', () => {
    // The config refuses an http publicUrl outside loopback, so a gateway cannot be set up that way
    // directly. Instead the gateway's publicUrl is http://127.0.0.1:<port> and a proxy listening on
    // a non-loopback address of this machine (same port) rewrites that URL into
    // http://<address>:<port> in every header and body, both ways: from outside it is exactly a
    // gateway configured with publicUrl http://<address>:<port>, served without TLS, and doctor is
    // pointed at that URL.
    let gw: TestGateway;
    let proxy: Server;
    let outside: string;
    before(async () => {
      const [port, gatewayPort] = [await freePort(), await freePort()];
      const address = nonLoopbackAddress();
      outside = `http://${address}:${port}`;
      gw = await startTestGateway(
        {
          publicUrl: `http://127.0.0.1:${port}`,
          listen: { host: '127.0.0.1', port: gatewayPort },
          allowedOrigins: [INSPECTOR_ORIGIN],
        },
        { fetch: chatgpt.fetch },
      );
      proxy = await startProxy({
        listenHost: address,
        port,
        gatewayPort,
        rewrite: { gateway: gw.url, outside, gatewayHost: `127.0.0.1:${port}` },
      });
    });
    after(async () => {
      await closeServer(proxy);
      await gw.close();
    });

    it('fails the https rows with the TLS fix, and nothing else', async () => {
      const run = await doctor(outside, '--server', 'demo');
      assertFailures(run, ['https publicUrl', 'https in metadata']);
      assert.match(run.rows.get('https publicUrl')!.detail, /plain http on a host that is not loopback/);
      assert.match(run.rows.get('https publicUrl')!.fix!, /put the gateway behind TLS \(see README Deploy\)/);
      assert.match(run.rows.get('https in metadata')!.detail, new RegExp(`are plain http, e\\.g\\. ${outside.replace(/\./g, '\\.')}/`));
    });
  });
});
