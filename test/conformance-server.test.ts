import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { failedChecks, runConformance, scoredVerdicts } from './helpers/conformance.js';
import { freePort } from './helpers/ports.js';
import { obtainTokens } from './helpers/tokens.js';

/**
 * The suite cannot send a bearer token, so a tiny proxy adds one; everything else (Host,
 * Origin, bodies, SSE, a client hanging up) passes through untouched, as from a real client.
 */
function tokenAddingProxy(port: number, target: URL, token: string): Promise<Server> {
  const server = createServer((req, res) => {
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: `${target.pathname}`,
        headers: { ...req.headers, authorization: `Bearer ${token}` },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    // A client that gives up on a stream (the suite aborts subscriptions/listen reads after a
    // timeout) closes its connection; pass that on, or the gateway would keep the listener.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server)));
}

describe('official MCP conformance suite, server role, through the gateway', { timeout: 420_000 }, () => {
  let gw: TestGateway;
  let proxy: Server;
  let proxyPort = 0;

  before(async () => {
    proxyPort = await freePort();
    gw = await startTestGateway({
      allowedOrigins: [`http://localhost:${proxyPort}`, `http://127.0.0.1:${proxyPort}`],
      mcpServers: {
        conformance: {
          command: process.execPath,
          args: [resolve(packageRoot, 'dist/test/fixtures/conformance-stdio-server.js')],
          isolation: 'shared',
        },
      },
    });
    const { access_token } = await obtainTokens(gw.url, 'conformance', ALICE);
    proxy = await tokenAddingProxy(proxyPort, new URL(`${gw.url}/mcp/conformance`), access_token);
  });
  after(async () => {
    proxy?.close();
    await gw?.close();
  });

  /** Runs the suite's server role at one spec revision through the proxy, recording each scenario's checks. */
  async function runServerRole(requirements: string) {
    const outputDir = mkdtempSync(join(tmpdir(), `conformance-${requirements}-`));
    const run = runConformance([
      'server',
      '--url',
      `http://localhost:${proxyPort}/mcp`,
      '--requirements',
      requirements,
      '--output-dir',
      outputDir,
    ]);
    const code = await run.exit;
    const output = run.output();
    const summary = output.slice(output.indexOf('=== SUMMARY ==='));
    process.stdout.write(`${summary}\n`);
    return { code, summary, output, outputDir };
  }

  it('passes every scored scenario at --requirements 2025-11-25 against a stdio server bridged in-process', async () => {
    const { code, summary, output, outputDir } = await runServerRole('2025-11-25');
    rmSync(outputDir, { recursive: true, force: true });
    const scored = [...summary.matchAll(/^([✓✗]) (\S+):/gmu)];
    assert.ok(scored.length >= 30, `expected the suite's scenarios in the summary:\n${output.slice(-3000)}`);
    assert.equal(code, 0, summary);
    assert.match(summary, /Total: \d+ passed, 0 failed/);
  });

  // The same LEGACY stdio server, now behind the 2026-07-28 stateless wire: the gateway answers
  // server/discover, adds resultType and cache hints, turns the server's elicitation/sampling/
  // roots requests into input_required results and serves subscriptions/listen. The printed
  // Total also counts the unscored scenarios (the tasks extension, pending ones), so the verdict
  // is the exit code and the scored scenarios' lines.
  it('passes every scored scenario at --requirements 2026-07-28 (stateless wire) against the same legacy stdio server', async () => {
    const { code, output, outputDir } = await runServerRole('2026-07-28');
    const scored = scoredVerdicts(output);
    const failing = scored.filter((v) => !v.passed).map((v) => v.scenario);
    const why = failedChecks(outputDir, new Set(failing));
    rmSync(outputDir, { recursive: true, force: true });
    process.stdout.write(`2026-07-28: ${scored.length - failing.length} of ${scored.length} scored scenarios pass\n`);
    assert.ok(scored.length >= 37, `expected the suite's 37 scored scenarios in the summary:\n${output.slice(-3000)}`);
    assert.deepEqual(failing, [], why.join('\n'));
    assert.equal(code, 0, output.slice(-3000));
  });
});
