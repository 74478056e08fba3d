import { isLoopbackHost } from '../net/loopback.js';

/**
 * The gateway's rule for redirect URIs, on top of oidc-provider's own checks: https anywhere,
 * http only to a loopback address (native and local clients), nothing else. Returns a reason
 * when the URI is refused.
 */
export function redirectUriProblem(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri.length === 0) return 'redirect_uris must be non-empty strings';
  if (uri.length > 2000) return 'redirect URI is longer than 2000 characters';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `redirect URI ${JSON.stringify(uri)} is not an absolute URL`;
  }
  if (uri.includes('#')) return `redirect URI ${uri} must not contain a fragment`;
  if (url.username || url.password) return `redirect URI ${uri} must not contain credentials`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return isLoopbackHost(url.hostname)
      ? undefined
      : `redirect URI ${uri} uses http: only loopback addresses (localhost, 127.0.0.1, [::1]) may use http; use https`;
  }
  return `redirect URI ${uri} uses the ${url.protocol.replace(/:$/, '')} scheme: only https (or http to a loopback address) is accepted`;
}

export function isLocalRedirect(uri: string): boolean {
  try {
    return isLoopbackHost(new URL(uri).hostname);
  } catch {
    return false;
  }
}
