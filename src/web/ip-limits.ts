import type { NextFunction, Request, Response } from 'express';
import type { ErrorPages } from './error-pages.js';
import { sendOAuthError } from './oauth-errors.js';
import type { RateLimits } from './rate-limit.js';

/** Per client IP, before oidc-provider reads the body: 429 with Retry-After and an OAuth JSON body. */
export function limitByIp(rateLimits: RateLimits, name: 'register' | 'token', what: string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const ip = req.ip ?? 'unknown';
    const refusal = await rateLimits.refusal(name, ip, `too many ${what} from this address`, { ip, requestId: req.id });
    if (!refusal) {
      next();
      return;
    }
    sendOAuthError(res, refusal);
  };
}

/** rateLimits.authorize, per client IP: a person's browser gets the sign-in rate-limit page. */
export function limitAuthorizationRequests(rateLimits: RateLimits, pages: ErrorPages) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const ip = req.ip ?? 'unknown';
    const refusal = await rateLimits.refusal('authorize', ip, 'there were too many sign-in requests from your network', {
      ip,
      requestId: req.id,
    });
    if (!refusal) {
      next();
      return;
    }
    pages.sendError(res, refusal);
  };
}
