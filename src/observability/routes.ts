/**
 * Route labels for metrics, in a module of their own so that the access log can use them
 * without loading prom-client when metrics are off.
 */
const EXACT_ROUTES = new Set([
  '/authorize',
  '/token',
  '/register',
  '/revoke',
  '/jwks',
  '/healthz',
  '/readyz',
  '/metrics',
  '/static/style.css',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/me',
  '/session/end',
  '/token/introspection',
]);
const INTERACTION_STEPS = new Set(['login', 'confirm', 'abort', 'upstream-complete']);

/**
 * The route label of a request path: one of a small fixed set of patterns, never the raw path
 * (which carries interaction ids, client ids and server names chosen by whoever sends it).
 */
export function routeOf(path: string): string {
  if (EXACT_ROUTES.has(path)) return path;
  if (path.startsWith('/mcp/')) return '/mcp/:server';
  if (path.startsWith('/interaction/')) {
    const parts = path.split('/');
    if (parts.length === 3) return '/interaction/:uid';
    if (parts.length === 4 && INTERACTION_STEPS.has(parts[3]!)) return `/interaction/:uid/${parts[3]}`;
    if (parts.length === 5 && parts[3] === 'upstream') return '/interaction/:uid/upstream/:provider';
    return 'other';
  }
  if (path.startsWith('/login/') && path.endsWith('/callback')) return '/login/:provider/callback';
  if (path.startsWith('/authorize/')) return '/authorize/:uid';
  if (path.startsWith('/register/')) return '/register/:client_id';
  if (path.startsWith('/.well-known/oauth-protected-resource')) return '/.well-known/oauth-protected-resource/mcp/:server';
  return 'other';
}
