import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { GatewayConfig } from '../config/schema.js';
import { hotPathLogger, type Logger } from '../log/logger.js';
import { PersonLabels } from '../log/person-labels.js';
import type { KeyValueStore } from '../storage/store.js';
import { storageReachable } from '../storage/storage-reachable.js';
import { AccessPolicy } from '../authz/access-policy.js';
import { AccountDirectory } from '../authz/accounts.js';
import { CsrfTokens } from '../authz/csrf.js';
import { interactionRouter } from '../authz/interactions.js';
import { loadCookieKeys, loadSigningKeys, publicJwks, type StoredSigningKey } from '../authz/keys.js';
import { LoginThrottle, type ThrottleLimits } from '../authz/login-throttle.js';
import { createProvider, maxSignedTokenLifetime } from '../authz/provider.js';
import { registrationBodyLimit } from '../authz/client-metadata-limits.js';
import { ResourceCatalog } from '../authz/resources.js';
import { effectiveScope } from '../authz/scopes.js';
import { profileOf } from '../clients/client-profiles.js';
import { AccessTokenVerifier } from '../resource/token-verifier.js';
import { BearerAuth } from '../resource/bearer-auth.js';
import { createMcpEndpoint, type McpEndpoint } from '../resource/mcp-endpoint.js';
import { protectedResourceRouter } from '../resource/protected-resource.js';
import { McpBridge } from '../bridge/bridge.js';
import { createRemoteProxies } from '../bridge/remote-proxy.js';
import { ReplicaDirectory } from '../cluster/replica-directory.js';
import { detectAdvertiseUrl } from '../cluster/advertise-address.js';
import { SessionForwarder, sessionIdPrefix } from '../cluster/session-forwarder.js';
import { openCors } from '../web/cors.js';
import { requestId } from '../web/request-id.js';
import { PAGE_SECURITY_HEADERS, renderPage, SafeHtml, stylesheet } from '../web/views.js';
import { upstreamLoginRouter } from '../authz/upstream-login-routes.js';
import { configuredUpstreams } from '../upstream/providers.js';
import type { BackendHooks } from '../bridge/backend.js';
import { audit } from '../observability/audit.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { routeOf } from '../observability/routes.js';
import { RedisStore } from '../storage/redis-store.js';
import { RateLimits, TRUSTED_PROXIES } from '../web/rate-limit.js';
import { createSafeFetch } from '../net/safe-fetch.js';

export interface Gateway {
  app: Express;
  /** Serves /mcp/<name>; runs before Express because it is the hot path. */
  mcp: McpEndpoint;
  bridge: McpBridge;
  provider: Provider;
  resources: ResourceCatalog;
  signingKeys: StoredSigningKey[];
  /** Prometheus metrics, when `metrics` is configured. */
  metrics?: GatewayMetrics;
  /** Where the separate metrics listener (`metrics.listen`) listens. */
  metricsAddress?: AddressInfo;
  rateLimits: RateLimits;
  /** Once listening, with Redis storage: announces where the other replicas reach this one. */
  joinCluster(address: AddressInfo): Promise<void>;
  /** Leaves the replica directory: peers stop sending this replica's sessions here. */
  leaveCluster(): Promise<void>;
  /** The last step of shutdown: drops the connections used to forward requests to other replicas and closes the metrics listener. */
  releaseConnections(): void;
}

export interface GatewayOptions {
  config: GatewayConfig;
  store: KeyValueStore;
  logger: Logger;
  throttle?: Partial<ThrottleLimits>;
  /**
   * Replaces the HTTP client for client-chosen URLs (Client ID Metadata Documents, jwks_uri,
   * sector_identifier_uri). Tests only: never set from config; without it the SSRF-safe fetch is used.
   */
  fetch?: typeof fetch;
}

function errorPage(host: string, requestIdValue: string, heading: string, message: string, advice: string, actions?: SafeHtml): string {
  return renderPage('error', heading, host, { heading, message, advice, requestId: requestIdValue, actions });
}

/** The first link of the flow trace: the request as the client sent it, before any check. */
function logAuthorizationRequest(logger: Logger) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const query = new URL(req.originalUrl, 'http://gateway.invalid').searchParams;
    const clientId = query.get('client_id') ?? undefined;
    logger.info({
      event: 'authorize', requestId: req.id, clientId, redirectUri: query.get('redirect_uri') ?? undefined,
      resource: query.get('resource') ?? undefined, scope: query.get('scope') ?? undefined,
      codeChallengeMethod: query.get('code_challenge_method') ?? undefined, prompt: query.get('prompt') ?? undefined,
    }, 'authorization request');
    next();
  };
}

/** oidc-provider reads the query itself, so a missing or unusable scope is fixed in the URL. */
function defaultAuthorizationScope(req: Request, _res: Response, next: NextFunction): void {
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

export async function createGateway({ config, store, logger, throttle, fetch: fetchOverride }: GatewayOptions): Promise<Gateway> {
  const host = new URL(config.publicUrl).host;
  const resources = new ResourceCatalog(config.publicUrl, Object.keys(config.mcpServers));
  const signingKeys = await loadSigningKeys(store, maxSignedTokenLifetime(config));
  const cookieKeys = await loadCookieKeys(store);
  const accounts = new AccountDirectory(store);
  const policy = new AccessPolicy(config);
  // prom-client and rate-limiter-flexible are loaded only when configured.
  const metrics = config.metrics ? new (await import('../observability/metrics.js')).GatewayMetrics() : undefined;
  const rateLimits = await RateLimits.create(config, logger, metrics, store instanceof RedisStore ? store.client : undefined);

  const provider = createProvider({
    config, store, signingKeys, cookieKeys, resources, accounts, policy, fetch: fetchOverride ?? createSafeFetch(),
    renderError: async (ctx: KoaContextWithOIDC, out) => {
      ctx.type = 'html';
      ctx.set(PAGE_SECURITY_HEADERS);
      const description = String(out.error_description ?? out.error ?? 'unknown error');
      ctx.body = errorPage(host, ctx.req.id ?? '-', 'Something went wrong', `The sign-in request could not be completed: ${description}.`,
        'Go back to the application you were connecting and start the connection again. If it keeps happening, tell the gateway operator.');
    },
  });
  observeProvider(provider, logger, metrics);
  answerUnavailableWhileStorageIsDown(provider, store);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy ? TRUSTED_PROXIES : false);
  app.use(requestId());
  app.use(accessLog(logger, metrics));
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // With Redis storage replicas find each other (a cluster block only overrides the address).
  const replicas = /^rediss?:\/\//.test(config.storage) ? new ReplicaDirectory(store, logger.child({ component: 'cluster' })) : undefined;
  app.get('/readyz', async (_req, res) => {
    if (await storageReachable(store)) res.json({ status: 'ready', storage: 'ok', ...replicaReadiness(replicas) });
    else res.status(503).set('Retry-After', '5').json({ status: 'unavailable', storage: 'unreachable' });
  });
  const css = stylesheet();
  const cssTag = `"${createHash('sha256').update(css).digest('base64url').slice(0, 16)}"`;
  app.get('/static/style.css', (_req, res) => {
    res.set({ 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600', ETag: cssTag }).send(css);
  });

  // RFC 8414 clients ask here; oidc-provider serves the same document under the OIDC name.
  app.get('/.well-known/oauth-authorization-server', (req, _res, next) => {
    req.url = '/.well-known/openid-configuration';
    next();
  });
  if (metrics && config.metrics?.token) app.get('/metrics', metricsHandler(metrics, config.metrics.token));
  app.use('/register', openCors());
  // Before oidc-provider (which reads the bodies itself): counted per client IP.
  if (rateLimits.enabled('register')) app.post('/register', limitByIp(rateLimits, 'register', 'client registrations'));
  app.post('/register', registrationBodyLimit);
  if (rateLimits.enabled('token')) app.post('/token', limitByIp(rateLimits, 'token', 'token requests'));
  // Each authorization request stores a sign-in in progress for an hour: counted per client IP.
  if (rateLimits.enabled('authorize')) app.get('/authorize', limitAuthorizationRequests(rateLimits, host));
  app.get('/authorize', logAuthorizationRequest(logger), defaultAuthorizationScope);

  const verifier = new AccessTokenVerifier(config.publicUrl, { keys: publicJwks(signingKeys) as never });
  app.use(protectedResourceRouter(config.publicUrl, resources));
  const forwarder = replicas ? new SessionForwarder(replicas, logger.child({ component: 'cluster' })) : undefined;
  const people = new PersonLabels(async (sub) => (await accounts.findBySub(sub))?.email);
  const bridge = new McpBridge(config, logger, undefined, sessionIdPrefix(replicas), bridgeHooks(logger, people, metrics));
  metrics?.watchBridge(bridge);
  const mcp = createMcpEndpoint({
    config, logger, bridge, forwarder, metrics, rateLimits, people,
    auth: new BearerAuth(config.publicUrl, resources, verifier),
    remote: createRemoteProxies(config, logger, sessionIdPrefix(replicas)),
  });

  const upstreams = configuredUpstreams(config);
  const csrf = new CsrfTokens(cookieKeys[0]!);
  const renderErrorPage = (res: Response, status: number, heading: string, message: string, advice: string, actions?: SafeHtml) => {
    res.status(status).set(PAGE_SECURITY_HEADERS).type('html').send(errorPage(host, res.req.id ?? '-', heading, message, advice, actions));
  };
  app.use(upstreamLoginRouter({ provider, config, store, accounts, policy, csrf, logger, upstreams, renderErrorPage, metrics, rateLimits }));
  app.use(interactionRouter({
    provider, config, store, accounts, policy, resources, logger, upstreams, csrf, renderErrorPage, metrics, rateLimits,
    throttle: new LoginThrottle(store, throttle),
  }));

  // Every URL the authorization server prints (metadata, redirects) and whether its cookies are
  // Secure follow publicUrl, never the Host or scheme a request arrived with.
  const publicOrigin = new URL(config.publicUrl);
  app.use((req, _res, next) => {
    req.headers['x-forwarded-proto'] = publicOrigin.protocol.replace(/:$/, '');
    req.headers['x-forwarded-host'] = publicOrigin.host;
    next();
  });
  app.use(provider.callback());

  app.use(async (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error, requestId: req.id, path: req.path }, 'request failed');
    if (res.headersSent) return;
    const expired = error instanceof Error && /interaction session (id cookie )?not found|SessionNotFound/i.test(`${error.name} ${error.message}`);
    if (expired) {
      res.status(400).set(PAGE_SECURITY_HEADERS).type('html').send(errorPage(host, req.id ?? '-', 'This sign-in has expired', 'The sign-in page was open too long, or was opened in another browser.', 'Go back to the application you were connecting and start the connection again.'));
      return;
    }
    if (!(await storageReachable(store))) {
      res.status(503).set({ ...PAGE_SECURITY_HEADERS, 'Retry-After': '5' }).type('html').send(errorPage(host, req.id ?? '-', 'Temporarily unavailable', 'The gateway cannot reach its storage right now.', 'Try again in a few seconds.'));
      return;
    }
    res.status(500).set(PAGE_SECURITY_HEADERS).type('html').send(errorPage(host, req.id ?? '-', 'Something went wrong', 'The gateway could not complete this request.', 'Try again. If it keeps happening, tell the gateway operator.'));
  });

  const joinCluster = async (address: AddressInfo) => {
    const configured = config.cluster?.advertiseUrl;
    await replicas?.start(configured ?? detectAdvertiseUrl(config.listen.host, address.port), !configured);
  };
  const leaveCluster = async () => {
    await replicas?.stop();
  };
  const metricsServer = metrics && config.metrics?.listen ? await listenForMetrics(config.metrics.listen, metrics, config.metrics.token) : undefined;
  const releaseConnections = () => {
    forwarder?.close();
    metricsServer?.close();
    metricsServer?.closeAllConnections();
  };
  return {
    app, mcp, bridge, provider, resources, signingKeys, metrics, rateLimits, joinCluster, leaveCluster, releaseConnections,
    metricsAddress: metricsServer?.address() as AddressInfo | undefined,
  };
}

/** What /readyz says about the replicas: addresses only in the log, which the public cannot read. */
function replicaReadiness(replicas: ReplicaDirectory | undefined): Record<string, string> {
  if (!replicas) return {};
  if (!replicas.duplicate) return { replicas: 'ok' };
  return { replicas: 'duplicate-address', warning: 'two replicas advertise the same address (see the gateway log): give each its own cluster.advertiseUrl' };
}

/** One line per request, without query strings (they carry codes and state); counted by route when metrics are on. */
function accessLog(logger: Logger, metrics?: GatewayMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const path = req.originalUrl.split('?')[0]!;
      metrics?.httpRequest(routeOf(path), req.method, res.statusCode);
      logger.debug({ requestId: req.id, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}

/** What the bridge reports about tool calls and processes: metrics and one audit event per tool call. */
function bridgeHooks(logger: Logger, people: PersonLabels, metrics?: GatewayMetrics): BackendHooks {
  const toolCallLog = hotPathLogger(logger);
  return {
    toolCallFinished: (session, tool, outcome, durationMs) => {
      metrics?.toolCall(session.serverName, tool, outcome, durationMs / 1000);
      audit(toolCallLog, 'mcp.tool_call', {
        sub: session.sub, clientId: session.clientId, server: session.serverName, tool: tool.length > 200 ? `${tool.slice(0, 200)}…` : tool,
        outcome, durationMs: Math.round(durationMs * 100) / 100, sessionId: session.id.slice(-8),
      }, 'tool call');
    },
    processRestarted: metrics && ((server) => metrics.stdioRestarted(server)),
    toolsListed: metrics && ((server, result) => metrics.toolsListed(server, result)),
    personOf: (sub) => ({ sub, email: people.cachedEmailOf(sub) }),
  };
}

/** Per client IP, before oidc-provider: 429 with Retry-After and an OAuth-style error body. */
function limitByIp(rateLimits: RateLimits, name: 'register' | 'token', what: string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const ip = req.ip ?? 'unknown';
    const retryAfter = await rateLimits.take(name, ip);
    if (retryAfter === 0) {
      next();
      return;
    }
    rateLimits.refused(name, ip, retryAfter, { ip, requestId: req.id });
    if (req.get('origin')) res.set('Access-Control-Allow-Origin', '*');
    res.status(429).set({ 'Retry-After': String(retryAfter), 'Cache-Control': 'no-store' }).json({
      error: 'rate_limited',
      error_description: `too many ${what} from this address; retry in ${retryAfter} seconds`,
      retry_after: retryAfter,
    });
  };
}

/** rateLimits.authorize, per client IP: a person's browser gets a page, with Retry-After. */
function limitAuthorizationRequests(rateLimits: RateLimits, host: string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const ip = req.ip ?? 'unknown';
    const retryAfter = await rateLimits.take('authorize', ip);
    if (retryAfter === 0) {
      next();
      return;
    }
    rateLimits.refused('authorize', ip, retryAfter, { ip, requestId: req.id });
    res.status(429).set({ ...PAGE_SECURITY_HEADERS, 'Retry-After': String(retryAfter) }).type('html').send(errorPage(host, req.id ?? '-',
      'Too many sign-in requests', 'There were too many sign-in requests from your network.', `Wait ${Math.ceil(retryAfter / 60)} minute${retryAfter > 60 ? 's' : ''} and try connecting again.`));
  };
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** Whether a request carries `Authorization: Bearer <token>` (compared in constant time). */
function hasMetricsToken(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const [scheme, presented] = (req.headers.authorization ?? '').split(' ');
  return scheme?.toLowerCase() === 'bearer' && !!presented && timingSafeEqual(sha256(presented), sha256(token));
}

async function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: GatewayMetrics, token: string | undefined): Promise<void> {
  if (!hasMetricsToken(req, token)) {
    res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="metrics"', 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }).end('metrics need "Authorization: Bearer <metrics.token>"\n');
    return;
  }
  const body = await metrics.text();
  res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' }).end(body);
}

/** GET /metrics on the main port, for `metrics.token`. */
function metricsHandler(metrics: GatewayMetrics, token: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    serveMetrics(req, res, metrics, token).catch(next);
  };
}

/** The separate metrics listener of `metrics.listen`: GET /metrics and nothing else. */
async function listenForMetrics(listen: { host: string; port: number }, metrics: GatewayMetrics, token: string | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('only GET /metrics here\n');
      return;
    }
    serveMetrics(req, res, metrics, token).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(`metrics.listen: cannot listen on ${listen.host}:${listen.port} (${error.code ?? error.message}); change metrics.listen.port or stop the other program`));
    });
    server.listen(listen.port, listen.host, () => resolvePromise());
  });
  // Never what keeps the process alive; shutdown closes it after the main server.
  server.unref();
  return server;
}

/**
 * An authorization server request that failed because Redis is away gets 503 with Retry-After
 * (clients retry) instead of a 500 that reads like a bug. It recovers when Redis does.
 */
function answerUnavailableWhileStorageIsDown(provider: Provider, store: KeyValueStore): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status !== 500 || (await storageReachable(store))) return;
    ctx.status = 503;
    ctx.set('Retry-After', '5');
    if (ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)) {
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the gateway cannot reach its storage; retry in a few seconds' };
    }
  });
}

/**
 * The OAuth flow trace: one structured event per step (register → authorize → login → consent →
 * code → token, then mcp.session), each carrying the clientId (and sub once known), so a failed
 * connection can be followed with one grep for the client id. Errors carry the body the client got.
 */
function observeProvider(provider: Provider, logger: Logger, metrics?: GatewayMetrics): void {
  // What the client was told, and oidc-provider's detail that it was not told.
  const refusal = (error: unknown) => {
    const { error: code, error_description: description, error_detail: detail } = error as { error?: string; error_description?: string; error_detail?: string };
    return { error: code, description, detail };
  };
  provider.on('server_error', (ctx, error) => logger.error({ err: error, requestId: ctx.req.id, path: ctx.path, clientId: ctx.oidc?.client?.clientId }, 'authorization server error'));
  provider.on('registration_create.success', (ctx, client) => audit(logger, 'register', { requestId: ctx.req.id, clientId: client.clientId, clientName: client.clientName, redirectUris: client.redirectUris, tokenEndpointAuthMethod: client.tokenEndpointAuthMethod, profile: profileOf(client)?.id, ip: (ctx.req as unknown as Request).ip }, 'client registered'));
  provider.on('registration_create.error', (ctx, error) => logger.info({ event: 'register.error', requestId: ctx.req.id, ...refusal(error) }, 'registration refused'));
  provider.on('authorization.accepted', (ctx) => {
    const { client } = ctx.oidc;
    logger.info({ event: 'authorize.accepted', requestId: ctx.req.id, clientId: client?.clientId, sub: ctx.oidc.session?.accountId, profile: client ? profileOf(client)?.id : undefined }, 'authorization granted without asking');
  });
  provider.on('interaction.started', (ctx, prompt) => logger.info({ event: 'authorize.prompt', requestId: ctx.req.id, clientId: ctx.oidc.client?.clientId, sub: ctx.oidc.session?.accountId, prompt: prompt.name, reasons: prompt.reasons }, 'person asked to sign in or consent'));
  provider.on('authorization.success', (ctx) => logger.info({ event: 'code.issued', requestId: ctx.req.id, clientId: ctx.oidc.client?.clientId, sub: ctx.oidc.session?.accountId }, 'authorization code sent to the client'));
  provider.on('authorization.error', (ctx, error) => logger.info({ event: 'authorize.error', requestId: ctx.req.id, clientId: ctx.oidc.client?.clientId, ...refusal(error) }, 'authorization request refused'));
  provider.on('grant.success', (ctx) => {
    const body = ctx.body as { access_token?: string; expires_in?: number; refresh_token?: string; scope?: string } | undefined;
    const grantType = String(ctx.oidc.params?.grant_type ?? '');
    metrics?.tokenIssued(grantType);
    audit(logger, 'token.issued', {
      requestId: ctx.req.id, clientId: ctx.oidc.client?.clientId, sub: ctx.oidc.account?.accountId, grantType,
      resource: audienceOf(body?.access_token), expiresIn: body?.expires_in, refreshToken: Boolean(body?.refresh_token), scope: body?.scope,
    }, 'tokens issued');
  });
  provider.on('grant.error', (ctx, error) => logger.info({ event: 'token.error', requestId: ctx.req.id, clientId: ctx.oidc.client?.clientId, grantType: ctx.oidc.params?.grant_type, ...refusal(error) }, 'token request refused'));
  provider.on('grant.revoked', (ctx, grantId) => {
    metrics?.grantRevoked();
    audit(logger, 'grant.revoked', { requestId: ctx.req.id, grantId, clientId: ctx.oidc.client?.clientId, sub: ctx.oidc.entities?.RefreshToken?.accountId }, 'grant revoked', 'warn');
  });
}

/** The `aud` of a JWT access token (the MCP server's resource URL), read for the log only. */
function audienceOf(accessToken: string | undefined): unknown {
  try {
    const payload = accessToken?.split('.')[1];
    return payload ? (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { aud?: unknown }).aud : undefined;
  } catch {
    return undefined;
  }
}
