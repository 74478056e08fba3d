// Running `doctor` as a person does (the real CLI) and reading its table back; the reverse proxy
// its tests put in front of a gateway.
import { execFile } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { packageRoot } from '../../src/paths.js';

const CLI = resolve(packageRoot, 'dist/src/cli/main.js');

export interface DoctorRow {
  ok: boolean;
  warning: boolean;
  detail: string;
  fix?: string;
}
export interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
  rows: Map<string, DoctorRow>;
}

/** Runs the real CLI, as a person would, with `env` added, and reads its table back by column position. */
export function doctorWith(env: Record<string, string>, ...args: string[]): Promise<DoctorRun> {
  return new Promise((resolvePromise) => {
    const options = { timeout: 60_000, env: { ...process.env, ...env } };
    execFile(process.execPath, [CLI, 'doctor', ...args], options, (error, stdout, stderr) => {
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
    const mark = line.slice(resultAt, detailAt).trim();
    last = { ok: mark !== '✗', warning: mark === '!', detail: line.slice(detailAt) };
    rows.set(line.slice(0, resultAt).trim(), last);
  }
  return rows;
}

export interface ProxyOptions {
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
export async function startProxy(options: ProxyOptions): Promise<Server> {
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

export const closeServer = (server: Server | undefined) =>
  new Promise<void>((resolvePromise) => {
    if (!server) return resolvePromise();
    server.closeAllConnections();
    server.close(() => resolvePromise());
  });

/** An address of this machine that is not loopback, so that plain http to it is what the https rule forbids. */
export function nonLoopbackAddress(): string {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((address) => address?.family === 'IPv4' && !address.internal);
  // Without a network interface, 0.0.0.0 still reaches this machine on Linux and is not a loopback name either.
  return external?.address ?? '0.0.0.0';
}
