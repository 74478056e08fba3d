import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../log/logger.js';
import { effectiveScope } from './scopes.js';

/** The first link of the flow trace: the request as the client sent it, before any check. */
export function logAuthorizationRequest(logger: Logger) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const query = new URL(req.originalUrl, 'http://gateway.invalid').searchParams;
    const clientId = query.get('client_id') ?? undefined;
    logger.info(
      {
        event: 'authorize',
        requestId: req.id,
        clientId,
        redirectUri: query.get('redirect_uri') ?? undefined,
        resource: query.get('resource') ?? undefined,
        scope: query.get('scope') ?? undefined,
        codeChallengeMethod: query.get('code_challenge_method') ?? undefined,
        prompt: query.get('prompt') ?? undefined,
      },
      'authorization request',
    );
    next();
  };
}

/** oidc-provider reads the query itself, so a missing or unusable scope is fixed in the URL. */
export function defaultAuthorizationScope(req: Request, _res: Response, next: NextFunction): void {
  if (req.method === 'GET') {
    const url = new URL(req.originalUrl, 'http://gateway.invalid');
    const scope = url.searchParams.get('scope') ?? undefined;
    const effective = effectiveScope(scope);
    if (scope !== effective && url.searchParams.has('client_id')) {
      url.searchParams.set('scope', effective);
      req.url = `${url.pathname}${url.search}`;
    }
  }
  next();
}

/** RFC 8414 clients ask at /.well-known/oauth-authorization-server; oidc-provider serves the same document under the OIDC name. */
export function metadataUnderRfc8414Name(req: Request, _res: Response, next: NextFunction): void {
  req.url = '/.well-known/openid-configuration';
  next();
}
