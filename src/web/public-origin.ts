import type { NextFunction, Request, Response } from 'express';

/**
 * Every URL the authorization server prints (metadata, redirects) and whether its cookies are
 * Secure follow publicUrl, never the Host or scheme a request arrived with: the forwarded headers
 * oidc-provider reads are set from publicUrl just before it runs.
 */
export function followPublicOrigin(publicUrl: string) {
  const origin = new URL(publicUrl);
  const protocol = origin.protocol.replace(/:$/, '');
  return (req: Request, _res: Response, next: NextFunction): void => {
    req.headers['x-forwarded-proto'] = protocol;
    req.headers['x-forwarded-host'] = origin.host;
    next();
  };
}
