import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by requestId(); shown on error pages and in every log line about the request. */
    id?: string;
  }
}

export function requestId() {
  return (req: Request, res: Response, next: NextFunction): void => {
    req.id = randomUUID();
    res.set('X-Request-Id', req.id);
    next();
  };
}
