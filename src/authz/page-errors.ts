import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { storageReachable } from '../storage/storage-reachable.js';
import type { KeyValueStore } from '../storage/store.js';
import { pageTextOf, type ErrorPages } from '../web/error-pages.js';
import { asGatewayError, GatewayError, StorageUnavailable } from '../web/errors.js';
import { PAGE_SECURITY_HEADERS } from '../web/views.js';
import { isLocalRedirect } from './redirect-uri-policy.js';

/** The reason on every sign-in rate-limit page (password posts and upstream starts). */
export const TOO_MANY_SIGN_INS = 'there were too many sign-in attempts from your network';

/** What a person is told when the sign-in they are on no longer exists (its cookie or record is gone). */
export const signInExpired = (cause?: unknown) =>
  new GatewayError(400, 'sign_in_expired', 'the sign-in page was open too long, or was opened in another browser', { cause });

/** A client error that Express's own parsers raise (a form over its size limit): status and message are meant to be shown. */
function isShownClientError(error: unknown): error is Error & { status: number } {
  const { status, expose } = (error ?? {}) as { status?: unknown; expose?: unknown };
  return error instanceof Error && typeof status === 'number' && status >= 400 && status < 500 && expose === true;
}

/**
 * What a failed sign-in page means, as a GatewayError: oidc-provider's SessionNotFound (by type)
 * is an expired sign-in; a failure while storage is away is StorageUnavailable; the rest as they are.
 */
export async function classifyPageError(error: unknown, store: KeyValueStore): Promise<GatewayError> {
  if (error instanceof errors.SessionNotFound) return signInExpired(error);
  if (error instanceof GatewayError) return error;
  if (isShownClientError(error)) return new GatewayError(error.status, 'invalid_request', error.message, { cause: error });
  if (!(await storageReachable(store))) return new StorageUnavailable(error);
  return asGatewayError(error);
}

/** `scheme://host:port` of a loopback http URI, with its path; undefined for any other URI. */
function loopbackParts(uri: unknown): { origin: string; path: string } | undefined {
  if (typeof uri !== 'string' || !isLocalRedirect(uri)) return undefined;
  const url = new URL(uri);
  return url.protocol === 'http:' ? { origin: url.origin, path: `${url.pathname}${url.search}` } : undefined;
}

/**
 * What to do when a local client comes back from another name of the same computer than the one it
 * registered (MCP Inspector opened from localhost one day and 127.0.0.1 the next keeps its stored
 * registration): undefined when the refused redirect URI is not such a case.
 */
export function loopbackMismatchAdvice(requested: unknown, registered: readonly string[]): string | undefined {
  const asked = loopbackParts(requested);
  if (!asked) return undefined;
  const other = registered.map(loopbackParts).find((parts) => parts && parts.path === asked.path && parts.origin !== asked.origin);
  if (!other) return undefined;
  return (
    `This application registered itself for ${other.origin} and now returns to ${asked.origin}: the same computer under ` +
    'another name or port (MCP Inspector does this when its page is opened from localhost one day and 127.0.0.1 the next). ' +
    'Clear the application\'s stored OAuth state — in MCP Inspector, "Clear OAuth State" in its authentication settings, ' +
    "or the browser's site data for the Inspector's page — then connect again: it registers afresh."
  );
}

/** oidc-provider's own error pages (a bad authorization request with no redirect to go back to), as the gateway's page. */
export function renderProviderError(pages: ErrorPages): NonNullable<Configuration['renderError']> {
  return async (ctx: KoaContextWithOIDC, out) => {
    const description = String(out.error_description ?? out.error ?? 'unknown error');
    const error = new GatewayError(ctx.status, String(out.error ?? 'server_error'), description, { expose: true });
    const text = pageTextOf(error);
    if (out.error === 'invalid_redirect_uri') {
      const advice = loopbackMismatchAdvice(ctx.oidc?.params?.redirect_uri, ctx.oidc?.client?.redirectUris ?? []);
      if (advice) text.advice = advice;
    }
    ctx.type = 'html';
    ctx.set(PAGE_SECURITY_HEADERS);
    ctx.body = pages.html(ctx.req.id, text);
  };
}
