const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether a URL hostname (IPv6 in brackets, as WHATWG URL gives it) names this machine: localhost,
 * [::1] or any 127.x.y.z. The one loopback rule for publicUrl, redirect URIs, upstream issuers,
 * the cluster's advertised address and `doctor`.
 */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** An http: URL to a loopback host (allowed where https is otherwise required, for local testing). */
export function isLoopbackHttp(url: string | URL): boolean {
  const parsed = new URL(url);
  return parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname);
}
