import type { NextFunction, Request, Response } from 'express';

const FORM = 'application/x-www-form-urlencoded';

/**
 * /token requests that carry another request's headers, made readable. MCP Inspector 1.x in Direct
 * mode refreshes with the headers of its MCP request (modelcontextprotocol/inspector#1160):
 * `Content-Type: application/json, application/x-www-form-urlencoded` and
 * `Authorization: Bearer <the expired access token>`. As sent, the body is not read and the
 * header is no client authentication, so the answer is invalid_request, which leaves the Inspector
 * stuck; read as the form it is, the refresh succeeds, or fails with invalid_grant and the client
 * signs in again.
 * - A Content-Type that lists several types, one of them the form type, is taken as the form type.
 * - A Bearer Authorization header is dropped: a bearer token never authenticates a client at /token
 *   (client_id in the body, Basic credentials or an assertion do), so nothing a client proves is lost.
 */
export function repairTokenRequestHeaders(req: Request, _res: Response, next: NextFunction): void {
  const type = req.headers['content-type'];
  if (type?.includes(',')) {
    const form = type.split(',').find((listed) => listed.trim().toLowerCase().startsWith(FORM));
    if (form) req.headers['content-type'] = form.trim();
  }
  if (/^bearer(\s|$)/i.test(req.headers.authorization ?? '')) delete req.headers.authorization;
  next();
}
