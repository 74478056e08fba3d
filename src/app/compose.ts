/**
 * The composition root: every part of the gateway is built here, from the slice of the config it
 * needs, and wired to the others. Nothing else happens here; read it top to bottom to see what
 * serves which URL, in the order Express tries them. app/server.ts owns the listeners.
 */
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import type Provider from 'oidc-provider';
import { personalDataRoot } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import type { PersonalDependencies } from '../mcp/process/personal-spec.js';
import { hotPathLogger, type Logger } from '../log/logger.js';
import { PersonLabels } from '../log/person-labels.js';
import type { KeyValueStore } from '../storage/store.js';
import { RedisStore } from '../storage/redis-store.js';
import { createSafeFetch } from '../net/safe-fetch.js';
import { openSecretVault } from '../secrets/open-vault.js';
import type { SecretVault } from '../secrets/vault.js';
import { AccessPolicy } from '../authz/access-policy.js';
import { AccountDirectory } from '../authz/accounts.js';
import { defaultAuthorizationScope, logAuthorizationRequest, metadataUnderRfc8414Name } from '../authz/authorize-request.js';
import { registrationBodyLimit } from '../authz/client-metadata-limits.js';
import { ClientKeySets, fetchWithKeySetCache } from '../authz/client-key-sets.js';
import { LastGoodDocuments, serveLastGoodDocuments } from '../authz/last-good-documents.js';
import { accountRouter } from '../account/account-routes.js';
import { ConnectedApplications, trackApplicationUse } from '../authz/connected-applications.js';
import { CsrfTokens } from '../authz/csrf.js';
import { interactionRouter } from '../authz/interactions.js';
import { loadCookieKeys, loadSigningKeys, publicJwks, type StoredSigningKey } from '../authz/keys.js';
import { LoginThrottle, type ThrottleLimits } from '../authz/login-throttle.js';
import { classifyPageError, renderProviderError } from '../authz/page-errors.js';
import { createProvider, maxSignedTokenLifetime } from '../authz/provider.js';
import { answerUnavailableWhileStorageIsDown, observeProvider } from '../authz/provider-events.js';
import { ResourceCatalog } from '../authz/resources.js';
import { upstreamLoginRouter } from '../authz/upstream-login-routes.js';
import { configuredUpstreams } from '../upstream/providers.js';
import { AccessTokenVerifier } from '../mcp/auth/token-verifier.js';
import { BearerAuth } from '../mcp/auth/bearer-auth.js';
import { createMcpEndpoint, type McpEndpoint } from '../mcp/transports/streamable-http.js';
import { protectedResourceRouter } from '../mcp/auth/protected-resource.js';
import { McpBridge, SESSION_IDLE_TIMEOUT_MS } from '../mcp/core/bridge.js';
import { SessionRecords } from '../mcp/core/session-records.js';
import { SessionResumer } from '../mcp/core/session-resume.js';
import { createRemoteProxies } from '../mcp/remote/remote-proxy.js';
import { remoteBackends } from '../mcp/remote/remote-backend.js';
import type { BridgeHooks } from '../mcp/core/hooks.js';
import { ReplicaDirectory } from '../mcp/cluster/replica-directory.js';
import { detectAdvertiseUrl } from '../mcp/cluster/advertise-address.js';
import { SessionForwarder, sessionIdPrefix } from '../mcp/cluster/session-forwarder.js';
import { audit } from '../observability/audit.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { listenForMetrics, metricsHandler } from '../observability/metrics-server.js';
import { accessLog, noSniff } from '../web/access-log.js';
import { TRUSTED_PROXIES } from '../web/client-address.js';
import { openCors } from '../web/cors.js';
import { ErrorPages } from '../web/error-pages.js';
import { limitAuthorizationRequests, limitByIp } from '../web/ip-limits.js';
import { followPublicOrigin } from '../web/public-origin.js';
import { RateLimits } from '../web/rate-limit.js';
import { requestId } from '../web/request-id.js';
import { repairTokenRequestHeaders } from '../web/token-request-headers.js';
import { serveStylesheet } from '../web/views.js';
import { healthRoutes } from './health.js';

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
  /** Each person's secrets (the SecretSource of templates, secretArguments, the account page and the CLI). */
  secrets: SecretVault;
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

type AuthorizationParts = Awaited<ReturnType<typeof createAuthorizationParts>>;

/** The authorization server and what it shares with the rest: keys, accounts, access policy, limits, pages. */
async function createAuthorizationParts({ config, store, logger, fetch: fetchOverride }: GatewayOptions) {
  const pages = new ErrorPages(new URL(config.publicUrl).host);
  const clientUrlFetch = fetchOverride ?? createSafeFetch();
  const resources = new ResourceCatalog(config.publicUrl, Object.keys(config.mcpServers));
  const signingKeys = await loadSigningKeys(store, maxSignedTokenLifetime(config.tokens));
  const cookieKeys = await loadCookieKeys(store);
  const accounts = new AccountDirectory(store);
  const policy = new AccessPolicy(config);
  // prom-client and rate-limiter-flexible are loaded only when configured.
  const metrics = config.metrics ? new (await import('../observability/metrics.js')).GatewayMetrics() : undefined;
  const rateLimits = await RateLimits.create(config.rateLimits, logger, metrics, store instanceof RedisStore ? store.client : undefined);
  const provider = createProvider({
    config,
    store,
    signingKeys,
    cookieKeys,
    resources,
    accounts,
    policy,
    fetch: fetchWithKeySetCache(clientUrlFetch, new ClientKeySets(store, clientUrlFetch)),
    renderError: renderProviderError(pages),
  });
  // A metadata document host that fails (an outage page, a refused fetch) does not lock its client out.
  serveLastGoodDocuments(provider, new LastGoodDocuments(store), logger);
  observeProvider(provider, logger, metrics);
  answerUnavailableWhileStorageIsDown(provider, store, pages);
  return { pages, resources, signingKeys, cookieKeys, accounts, policy, metrics, rateLimits, provider };
}

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, store, logger, throttle } = options;
  const { pages, resources, signingKeys, cookieKeys, accounts, policy, metrics, rateLimits, provider } =
    await createAuthorizationParts(options);
  // Refuses to start when stored secrets cannot be read with the configured key(s).
  const secrets = await openSecretVault(config, store, logger.child({ component: 'secrets' }));

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy ? TRUSTED_PROXIES : false);
  app.use(requestId());
  app.use(accessLog(logger, metrics));
  app.use(noSniff);

  // With Redis storage replicas find each other (a cluster block only overrides the address).
  const replicas = /^rediss?:\/\//.test(config.storage) ? new ReplicaDirectory(store, logger.child({ component: 'cluster' })) : undefined;
  app.use(healthRoutes(store, replicas));
  app.get('/static/style.css', serveStylesheet());
  app.get('/.well-known/oauth-authorization-server', metadataUnderRfc8414Name);
  if (metrics && config.metrics?.token) app.get('/metrics', metricsHandler(metrics, config.metrics.token));
  guardOAuthEndpoints(app, rateLimits, pages, logger);

  app.use(protectedResourceRouter(config.publicUrl, resources));
  const { mcp, bridge, forwarder } = createMcpParts(
    options,
    { signingKeys, cookieKeys, resources, accounts, metrics, rateLimits, secrets },
    replicas,
  );

  const upstreams = configuredUpstreams(config);
  const csrf = new CsrfTokens(cookieKeys[0]!);
  const signIn = { provider, config, store, accounts, policy, csrf, logger, upstreams, pages, metrics, rateLimits };
  app.use(upstreamLoginRouter(signIn));
  const applications = new ConnectedApplications(store, provider, config.tokens.grantTtl);
  trackApplicationUse(provider, applications, logger);
  app.use(interactionRouter({ ...signIn, resources, applications, throttle: new LoginThrottle(store, throttle) }));
  const account = { ...signIn, publicUrl: config.publicUrl, resources, applications, secrets: secrets.available ? secrets : undefined };
  app.use(accountRouter(account));

  app.use(followPublicOrigin(config.publicUrl));
  app.use(provider.callback());
  app.use(pages.handler(logger, (error) => classifyPageError(error, store)));

  const metricsServer =
    metrics && config.metrics?.listen ? await listenForMetrics(config.metrics.listen, metrics, config.metrics.token) : undefined;
  const releaseConnections = () => {
    forwarder?.close();
    void secrets.close();
    metricsServer?.close();
    metricsServer?.closeAllConnections();
  };
  return {
    app,
    mcp,
    bridge,
    provider,
    resources,
    signingKeys,
    metrics,
    rateLimits,
    secrets,
    ...clusterMembership(config, replicas),
    releaseConnections,
    metricsAddress: metricsServer?.address() as AddressInfo | undefined,
  };
}

/** What the gateway adds in front of oidc-provider's endpoints: CORS, per-IP limits, a body limit and a default scope. */
function guardOAuthEndpoints(app: Express, rateLimits: RateLimits, pages: ErrorPages, logger: Logger): void {
  app.use('/register', openCors());
  // Before oidc-provider (which reads the bodies itself): counted per client IP.
  if (rateLimits.enabled('register')) app.post('/register', limitByIp(rateLimits, 'register', 'client registrations'));
  app.post('/register', registrationBodyLimit);
  if (rateLimits.enabled('token')) app.post('/token', limitByIp(rateLimits, 'token', 'token requests'));
  app.post('/token', repairTokenRequestHeaders);
  // Each authorization request stores a sign-in in progress for an hour: counted per client IP.
  if (rateLimits.enabled('authorize')) app.get('/authorize', limitAuthorizationRequests(rateLimits, pages));
  app.get('/authorize', logAuthorizationRequest(logger), defaultAuthorizationScope);
}

/** The MCP side: the stdio bridge, the remote proxies and the endpoint in front of both, with its token check. */
function createMcpParts(
  { config, logger, store }: GatewayOptions,
  parts: Pick<AuthorizationParts, 'signingKeys' | 'cookieKeys' | 'resources' | 'accounts' | 'metrics' | 'rateLimits'> & {
    secrets: SecretVault;
  },
  replicas: ReplicaDirectory | undefined,
): { mcp: McpEndpoint; bridge: McpBridge; forwarder?: SessionForwarder } {
  const { signingKeys, cookieKeys, resources, accounts, metrics, rateLimits, secrets } = parts;
  const verifier = new AccessTokenVerifier(config.publicUrl, { keys: publicJwks(signingKeys) as never });
  const forwarder = replicas ? new SessionForwarder(replicas, logger.child({ component: 'cluster' })) : undefined;
  const people = new PersonLabels(async (sub) => (await accounts.findBySub(sub))?.email);
  // Sessions are records too: they survive a restart, and a replica's death (another takes them over).
  const records = new SessionRecords(
    store,
    logger,
    SESSION_IDLE_TIMEOUT_MS,
    config.limits.sessionLifetime * 1000,
    replicas && forwarder && { id: replicas.id, isAlive: (replica) => forwarder.isAlive(replica) },
  );
  const personal: PersonalDependencies = {
    dataRoot: personalDataRoot(config),
    person: async (sub) => {
      const account = await accounts.findBySub(sub);
      return { email: account?.email, name: account?.name };
    },
    secrets,
    accountUrl: (serverName) => `${config.publicUrl}/account#${serverName}`,
  };
  const hooks = bridgeHooks(logger, people, metrics);
  const bridge = new McpBridge(config, logger, undefined, sessionIdPrefix(replicas), hooks, records, remoteBackends, personal);
  metrics?.watchBridge(bridge);
  const mcp = createMcpEndpoint({
    config,
    logger,
    bridge,
    forwarder,
    resumer: new SessionResumer(bridge, records, config.mcpServers),
    metrics,
    rateLimits,
    people,
    auth: new BearerAuth(config.publicUrl, resources, verifier),
    remote: createRemoteProxies(config, logger, sessionIdPrefix(replicas), personal),
    stateSecret: cookieKeys[0]!,
    idPrefix: sessionIdPrefix(replicas),
  });
  return { mcp, bridge, forwarder };
}

/** Joining and leaving the replica directory (Redis storage only), with the address other replicas reach this one at. */
function clusterMembership(
  config: Pick<GatewayConfig, 'cluster' | 'listen'>,
  replicas: ReplicaDirectory | undefined,
): Pick<Gateway, 'joinCluster' | 'leaveCluster'> {
  return {
    joinCluster: async (address: AddressInfo) => {
      const configured = config.cluster?.advertiseUrl;
      await replicas?.start(configured ?? detectAdvertiseUrl(config.listen.host, address.port), !configured);
    },
    leaveCluster: async () => {
      await replicas?.stop();
    },
  };
}

/** What the bridge reports about tool calls and processes: metrics and one audit event per tool call. */
function bridgeHooks(logger: Logger, people: PersonLabels, metrics?: GatewayMetrics): BridgeHooks {
  const toolCallLog = hotPathLogger(logger);
  return {
    toolCallFinished: (session, tool, outcome, durationMs) => {
      metrics?.toolCall(session.serverName, tool, outcome, durationMs / 1000);
      audit(
        toolCallLog,
        'mcp.tool_call',
        {
          sub: session.sub,
          clientId: session.clientId,
          server: session.serverName,
          tool: tool.length > 200 ? `${tool.slice(0, 200)}…` : tool,
          outcome,
          durationMs: Math.round(durationMs * 100) / 100,
          sessionId: session.id.slice(-8),
        },
        'tool call',
      );
    },
    processRestarted: metrics && ((server) => metrics.stdioRestarted(server)),
    toolsListed: metrics && ((server, result) => metrics.toolsListed(server, result)),
    personOf: (sub) => ({ sub, email: people.cachedEmailOf(sub) }),
  };
}
