import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startChatGptStandIn, type ChatGptStandIn } from './helpers/chatgpt-stand-in.js';
import { startPublishedClients, type PublishedClients } from './helpers/published-clients.js';
import { freePort } from './helpers/ports.js';
import { closeServer, doctorWith, nonLoopbackAddress, startProxy, type DoctorRun } from './helpers/doctor-run.js';

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
  'ChatGPT server/discover',
  'ChatGPT private_key_jwt',
  'ChatGPT key set',
  'Claude.ai CIMD gate',
  'Claude.ai public IPv4:443',
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
  'DCR Claude Code (none)',
  'DCR VS Code (none)',
  'DCR Codex (none)',
  'DCR MCP Inspector (none)',
  'DCR mcp-remote (none)',
  'DCR refuses http://evil.example/cb',
  'CIMD ChatGPT',
  'CIMD Claude.ai',
  'CIMD Claude Code',
  'CIMD VS Code',
  'PKCE required',
  'PKCE plain refused',
  'replica addresses',
];
const CORS_ROWS = ALL_ROWS.filter((row) => row.startsWith('CORS'));

/** Where doctor looks for ChatGPT's key set in these tests (a local stand-in; see keySetServer below). */
let keySetUrl = '';

/** Runs the real CLI with ChatGPT's key set played locally. */
const doctor = (...args: string[]) => doctorWith({ DOCTOR_CHATGPT_KEY_SET_URL: keySetUrl }, ...args);

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
  const warnings = [...run.rows.values()].filter((row) => row.warning).length;
  const summary = `${ALL_ROWS.length - expected.length} passed, ${expected.length} failed${warnings ? `, ${warnings} warnings?` : ''}`;
  assert.match(run.stdout, new RegExp(`^${summary}$`, 'm'));
}

describe('doctor', () => {
  // Only Claude.ai's metadata document is pinned: stand-ins for chatgpt.com, claude.ai and
  // vscode.dev serve the others to every gateway here, and a local server plays ChatGPT's key set
  // for doctor itself (DOCTOR_CHATGPT_KEY_SET_URL).
  let chatgpt: ChatGptStandIn;
  let published: PublishedClients;
  let keySetServer: Server;
  before(async () => {
    published = await startPublishedClients();
    chatgpt = await startChatGptStandIn(published.fetch);
    keySetServer = createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: [{ kty: 'RSA', kid: 'k', n: 'AQAB', e: 'AQAB' }] }));
    });
    await new Promise<void>((resolvePromise) => keySetServer.listen(0, '127.0.0.1', resolvePromise));
    keySetUrl = `http://127.0.0.1:${(keySetServer.address() as { port: number }).port}/oauth/jwks.json`;
  });
  after(async () => {
    chatgpt.close();
    published.close();
    await closeServer(keySetServer);
  });

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

    it("plays each client's needs: ChatGPT's server/discover probe and key set, Claude.ai's gate, Claude Code on any port", async () => {
      const run = await doctor(gw.url, '--server', 'demo');
      assert.match(run.rows.get('ChatGPT server/discover')!.detail, /^401 with resource_metadata/);
      assert.match(run.rows.get('ChatGPT private_key_jwt')!.detail, /private_key_jwt/);
      assert.equal(run.rows.get('ChatGPT key set')!.warning, false);
      assert.match(run.rows.get('ChatGPT key set')!.detail, /1 key\(s\), reachable from here/);
      assert.match(run.rows.get('Claude.ai CIMD gate')!.detail, /client_id_metadata_document_supported and none advertised/);
      assert.match(run.rows.get('CIMD Claude Code')!.detail, /accepted with http:\/\/localhost:\d+\/callback \(any loopback port\)/);
      assert.match(run.rows.get('CIMD VS Code')!.detail, /vscode\.dev\/oauth\/client-metadata\.json accepted/);
      // A loopback publicUrl on another port than 443 is a warning (fine for testing), not a failure.
      const reach = run.rows.get('Claude.ai public IPv4:443')!;
      assert.equal(reach.warning, true);
      assert.match(reach.detail, /127\.0\.0\.1 \(loopback[^)]*\).*port \d+, not 443: Claude\.ai cannot reach it/);
      assert.match(
        reach.fix!,
        /^note: fine for local testing; for Claude\.ai, publicUrl must be https on port 443 at a public IPv4 address/,
      );
    });

    it("warns, without failing, when ChatGPT's key set cannot be reached from where doctor runs", async () => {
      const closedPort = await freePort();
      const run = await doctorWith(
        { DOCTOR_CHATGPT_KEY_SET_URL: `http://127.0.0.1:${closedPort}/oauth/jwks.json` },
        gw.url,
        '--server',
        'demo',
      );
      assertFailures(run, []);
      const keySet = run.rows.get('ChatGPT key set')!;
      assert.equal(keySet.warning, true);
      assert.match(keySet.detail, new RegExp(`^http://127\\.0\\.0\\.1:${closedPort}/oauth/jwks\\.json unreachable from here: `));
      assert.match(keySet.fix!, /note: run doctor on the gateway host: the gateway must reach chatgpt\.com over https/);
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
        'CIMD Claude Code',
        'CIMD VS Code',
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
