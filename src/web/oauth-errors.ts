import type { Response } from 'express';
import type { GatewayError } from './errors.js';

/**
 * The OAuth surface (/register, /token and oidc-provider's JSON answers): a GatewayError as an
 * RFC 6749 §5.2 body, `error` and `error_description`, then the error's own data (`retry_after`).
 */
export function oauthErrorBody(error: GatewayError): Record<string, unknown> {
  return { error: error.error, error_description: error.publicMessage, ...error.data };
}

/** The error's own headers (Retry-After) on a response that must never be cached. */
export function oauthErrorHeaders(error: GatewayError): Record<string, string> {
  return { 'Cache-Control': 'no-store', ...error.headers };
}

export function sendOAuthError(res: Response, error: GatewayError): void {
  // Browser-based clients (MCP Inspector) must be able to read why they were refused.
  if (res.req.get('origin')) res.set('Access-Control-Allow-Origin', '*');
  res.status(error.status).set(oauthErrorHeaders(error)).json(oauthErrorBody(error));
}
