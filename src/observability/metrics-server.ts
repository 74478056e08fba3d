import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { sameSecret } from '../lib/same-secret.js';
import type { GatewayMetrics } from './metrics.js';

/** Whether a request carries `Authorization: Bearer <token>` (compared in constant time); any request when no token is set. */
function hasMetricsToken(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const [scheme, presented] = (req.headers.authorization ?? '').split(' ');
  return scheme?.toLowerCase() === 'bearer' && !!presented && sameSecret(presented, token);
}

async function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: GatewayMetrics, token: string | undefined): Promise<void> {
  if (!hasMetricsToken(req, token)) {
    res
      .writeHead(401, {
        'WWW-Authenticate': 'Bearer realm="metrics"',
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-store',
      })
      .end('metrics need "Authorization: Bearer <metrics.token>"\n');
    return;
  }
  const body = await metrics.text();
  res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' }).end(body);
}

/** GET /metrics on the main port, for `metrics.token`. */
export function metricsHandler(metrics: GatewayMetrics, token: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    serveMetrics(req, res, metrics, token).catch(next);
  };
}

/** The separate metrics listener of `metrics.listen`: GET /metrics and nothing else. */
export async function listenForMetrics(
  listen: { host: string; port: number },
  metrics: GatewayMetrics,
  token: string | undefined,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('only GET /metrics here\n');
      return;
    }
    serveMetrics(req, res, metrics, token).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          `metrics.listen: cannot listen on ${listen.host}:${listen.port} (${error.code ?? error.message}); ` +
            'change metrics.listen.port or stop the other program',
        ),
      );
    });
    server.listen(listen.port, listen.host, () => resolvePromise());
  });
  // Never what keeps the process alive; shutdown closes it after the main server.
  server.unref();
  return server;
}
