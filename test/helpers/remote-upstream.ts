import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { resolve } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { freePort } from './ports.js';

/** What the recording hop saw of one exchange with the upstream. */
export interface RecordedExchange {
  method: string;
  requestHeaders: IncomingHttpHeaders;
  /** The request body as it passed (complete once the request has ended). */
  requestBody: string;
  status?: number;
  responseHeaders?: IncomingHttpHeaders;
}

export interface RecordedUpstream {
  /** The MCP URL to configure as a `url` server (the hop in front of server-everything). */
  url: string;
  exchanges: RecordedExchange[];
  /** From now on the hop answers 404 for this session id, as an upstream that ended the session does. */
  forget(sessionId: string): void;
  close(): Promise<void>;
}

/** server-everything, the MCP reference server, in its Streamable HTTP mode. */
async function startEverything(port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [resolve(packageRoot, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'streamableHttp'],
    { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolvePromise, reject) => {
    let output = '';
    child.stderr!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('listening')) resolvePromise();
    });
    child.once('exit', () => reject(new Error(`server-everything exited: ${output}`)));
  });
  return child;
}

/**
 * server-everything behind a transparent hop that records every request's headers and every
 * response's status and headers: what the upstream really receives and sends.
 */
export async function startRecordedUpstream(): Promise<RecordedUpstream> {
  const everythingPort = await freePort();
  const everything = await startEverything(everythingPort);
  const exchanges: RecordedExchange[] = [];
  const forgotten = new Set<string>();
  const hop: Server = createServer((req, res) => {
    const exchange: RecordedExchange = { method: req.method ?? '', requestHeaders: { ...req.headers }, requestBody: '' };
    exchanges.push(exchange);
    req.on('data', (chunk: Buffer) => (exchange.requestBody += chunk.toString()));
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string' && forgotten.has(sessionId)) {
      exchange.status = 404;
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
      return;
    }
    const headers: IncomingHttpHeaders = { ...req.headers, host: `127.0.0.1:${everythingPort}` };
    // Hop-by-hop headers stop here (this hop is itself a proxy); they were recorded above.
    for (const name of ['connection', 'keep-alive', 'te', 'trailer', 'upgrade']) delete headers[name];
    const upstream = request({ host: '127.0.0.1', port: everythingPort, path: req.url, method: req.method, headers }, (up) => {
      exchange.status = up.statusCode;
      exchange.responseHeaders = { ...up.headers };
      res.writeHead(up.statusCode ?? 502, up.headers);
      res.flushHeaders();
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => hop.listen(0, '127.0.0.1', () => r()));
  const hopPort = (hop.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${hopPort}/mcp`,
    exchanges,
    forget: (sessionId) => forgotten.add(sessionId),
    close: async () => {
      hop.closeAllConnections();
      await new Promise<void>((r) => hop.close(() => r()));
      everything.kill();
    },
  };
}
