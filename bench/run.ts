// npm run bench: the same `echo` tool of server-everything, called directly over stdio, through a
// bare node:http JSON-RPC echo (the ceiling of one HTTP hop), through the gateway with a real
// token, and through supergateway, all measured in this one run. Prints latency, throughput and
// the ratios that matter; it asserts nothing. Then 100 connectors registering and exchanging codes
// at once (bench/connectors.ts). BENCH_ONLY=mcp or BENCH_ONLY=connectors runs one part.
import { spawn, type ChildProcess } from 'node:child_process';
import { request, Agent } from 'node:http';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { packageRoot } from '../src/paths.js';
import { benchConnectors } from './connectors.js';
import { spawnGateway, testConfigJson } from '../test/helpers/gateway.js';
import { obtainTokens } from '../test/helpers/tokens.js';
import { freePort } from '../test/helpers/ports.js';

const EVERYTHING = resolve(packageRoot, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const SUPERGATEWAY = resolve(packageRoot, 'node_modules/supergateway/dist/index.js');
const SEQUENTIAL_CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const WARMUP_CALLS = 200;
const CONNECTIONS = 32;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);

interface Result {
  name: string;
  p50: number;
  p99: number;
  rps: number;
}

const callBody = (id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello' } } });
/** The same call on the modern wire (MCP 2026-07-28): no session, the request describes itself. */
const modernMeta = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const modernCallBody = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'echo', arguments: { message: 'hello' }, _meta: modernMeta },
  });
const modernHeaders = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/** Direct stdio: one process, newline-delimited JSON-RPC, no HTTP at all. */
async function benchStdio(): Promise<Result> {
  const child = spawn(process.execPath, [EVERYTHING, 'stdio'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const waiting = new Map<number, () => void>();
  let buffer = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const message = JSON.parse(line) as { id?: number };
      if (typeof message.id === 'number') waiting.get(message.id)?.();
    }
  });
  let nextId = 1;
  const send = (body: string, id: number) =>
    new Promise<void>((done) => {
      waiting.set(id, () => {
        waiting.delete(id);
        done();
      });
      child.stdin!.write(`${body}\n`);
    });
  const init = nextId++;
  await send(
    JSON.stringify({
      jsonrpc: '2.0',
      id: init,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
    }),
    init,
  );
  child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  const call = () => {
    const id = nextId++;
    return send(callBody(id), id);
  };
  for (let i = 0; i < WARMUP_CALLS; i++) await call();
  const latencies: number[] = [];
  for (let i = 0; i < SEQUENTIAL_CALLS; i++) {
    const started = process.hrtime.bigint();
    await call();
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  let completed = 0;
  const deadline = Date.now() + DURATION_S * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        await call();
        completed++;
      }
    }),
  );
  child.kill();
  latencies.sort((a, b) => a - b);
  return { name: 'direct stdio', p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rps: completed / DURATION_S };
}

/** One HTTP endpoint: sequential latency over a keep-alive connection, then autocannon. */
async function benchHttp(name: string, url: string, headers: Record<string, string>, bodyOf = callBody): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let id = 1_000_000;
  const post = () =>
    new Promise<void>((done, fail) => {
      const body = bodyOf(id++);
      const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? done() : fail(new Error(`${name}: HTTP ${res.statusCode}`))));
      });
      req.on('error', fail);
      req.end(body);
    });
  for (let i = 0; i < WARMUP_CALLS; i++) await post();
  const latencies: number[] = [];
  for (let i = 0; i < SEQUENTIAL_CALLS; i++) {
    const started = process.hrtime.bigint();
    await post();
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  agent.destroy();
  latencies.sort((a, b) => a - b);
  let unique = 1;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    method: 'POST',
    headers,
    requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, body: bodyOf(unique++) }) }],
  });
  if (result.non2xx > 0 || result.errors > 0)
    console.warn(`  ${name}: ${result.non2xx} non-2xx responses, ${result.errors} errors under load`);
  return { name, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rps: result.requests.average };
}

/** The ceiling of one HTTP hop: its own process parses the JSON-RPC call and answers it without any backend. */
const BARE_ECHO_SOURCE = `
const { createServer } = require('node:http');
const server = createServer((req, res) => {
  if (req.method !== 'POST') return res.end('ok');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const message = JSON.parse(Buffer.concat(chunks).toString());
    const content = [{ type: 'text', text: 'Echo: ' + message.params.arguments.message }];
    const body = JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
});
server.listen(Number(process.argv[1]), '127.0.0.1');`;

async function startBareEcho(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', BARE_ECHO_SOURCE, String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/`;
  await waitForListening(url);
  return { url, child };
}

async function waitForListening(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url, { method: 'GET', signal: AbortSignal.timeout(500) }).then((r) => r.body?.cancel());
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} never answered`);
}

async function initializeSession(url: string, headers: Record<string, string>): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
    }),
  });
  const sessionId = response.headers.get('mcp-session-id');
  await response.text();
  if (!sessionId) throw new Error(`${url}: no session id (HTTP ${response.status})`);
  await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  }).then((r) => r.text());
  return sessionId;
}

async function startSupergateway(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      SUPERGATEWAY,
      '--stdio',
      `${process.execPath} ${EVERYTHING} stdio`,
      '--outputTransport',
      'streamableHttp',
      '--stateful',
      '--port',
      String(port),
      '--logLevel',
      'none',
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitForListening(url);
  return { url, child };
}

const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY !== 'connectors') await benchMcp();
  if (process.env.BENCH_ONLY !== 'mcp') await benchConnectors();
  process.exit(0);
}

async function benchMcp(): Promise<void> {
  console.log(
    `mcp-oauth-gateway benchmark: echo tool of server-everything; ` +
      `${SEQUENTIAL_CALLS} sequential calls, then ${CONNECTIONS} connections for ${DURATION_S}s\n`,
  );
  const results: Result[] = [];
  results.push(await benchStdio());

  const bare = await startBareEcho();
  results.push(await benchHttp('bare HTTP hop', bare.url, { 'content-type': 'application/json' }));
  bare.child.kill();

  // The gateway runs as its own process, started the way a user starts it.
  const gw = await spawnGateway(
    await testConfigJson({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } } }),
  );
  const { access_token } = await obtainTokens(gw.url, 'everything');
  const gatewayUrl = `${gw.url}/mcp/everything`;
  const gatewayHeaders = { ...mcpHeaders, authorization: `Bearer ${access_token}` };
  const session = await initializeSession(gatewayUrl, gatewayHeaders);
  results.push(
    await benchHttp('gateway', gatewayUrl, { ...gatewayHeaders, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }),
  );
  const modern = await benchHttp('gateway, 2026-07-28 stateless', gatewayUrl, { ...gatewayHeaders, ...modernHeaders }, modernCallBody);
  await gw.kill('SIGTERM');

  const sg = await startSupergateway();
  const sgSession = await initializeSession(sg.url, mcpHeaders);
  results.push(
    await benchHttp('supergateway', sg.url, { ...mcpHeaders, 'mcp-session-id': sgSession, 'mcp-protocol-version': '2025-11-25' }),
  );
  sg.child.kill();

  console.log('| path | p50 ms | p99 ms | calls/s (32 conns) |');
  console.log('|---|---:|---:|---:|');
  for (const r of [...results, modern]) console.log(`| ${r.name} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${Math.round(r.rps)} |`);
  const [, hop, gateway, supergateway] = results as [Result, Result, Result, Result];
  console.log('');
  console.log(`gateway p50 - bare hop p50:        ${(gateway.p50 - hop.p50).toFixed(3)} ms   (target: within 1 ms)`);
  console.log(`gateway throughput / bare hop:      ${(gateway.rps / hop.rps).toFixed(2)}x     (target: at least 0.5x)`);
  console.log(`gateway throughput / supergateway:  ${(gateway.rps / supergateway.rps).toFixed(2)}x     (target: at least 3x)`);
  console.log(`stateless throughput / session:     ${(modern.rps / gateway.rps).toFixed(2)}x     (target: at least 1x)`);
  console.log(`stateless p50 / session p50:        ${(modern.p50 / gateway.p50).toFixed(2)}x     (target: at most 1x)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
