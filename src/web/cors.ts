import type { NextFunction, Request, Response } from 'express';

/**
 * CORS for endpoints browser-based clients (MCP Inspector) call directly. These responses carry
 * no cookies, so any origin may read them.
 */
export function openCors(exposeHeaders: string[] = []) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.get('origin');
    if (origin) {
      res.set('Access-Control-Allow-Origin', '*');
      if (exposeHeaders.length) res.set('Access-Control-Expose-Headers', exposeHeaders.join(', '));
    }
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      res.set({
        'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': req.get('access-control-request-headers') ?? 'content-type, authorization',
        'Access-Control-Max-Age': '600',
      });
      res.status(204).end();
      return;
    }
    next();
  };
}
