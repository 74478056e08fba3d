import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../log/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { routeOf } from '../observability/routes.js';

/** One line per request, without query strings (they carry codes and state); counted by route when metrics are on. */
export function accessLog(logger: Logger, metrics?: Pick<GatewayMetrics, 'httpRequest'>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const path = req.originalUrl.split('?')[0]!;
      metrics?.httpRequest(routeOf(path), req.method, res.statusCode);
      logger.debug({ requestId: req.id, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}

/** Every response says so: its content type is what it declares (no MIME sniffing). */
export function noSniff(_req: Request, res: Response, next: NextFunction): void {
  res.set('X-Content-Type-Options', 'nosniff');
  next();
}
