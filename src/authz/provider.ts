import Provider, { errors, type Client, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { GatewayConfig } from '../config/schema.js';
import type { KeyValueStore } from '../storage/store.js';
import { createOidcAdapterClass, DEFAULT_DUPLICATE_CODE_WINDOW, type ClientLifetimes } from './oidc-adapter.js';
import { makeTokenExchangesIdempotent } from './idempotent-token-exchange.js';
import { answerRepeatedResumptions } from './consent-once.js';
import type { AccessPolicy } from './access-policy.js';
import type { AccountDirectory } from './accounts.js';
import type { StoredSigningKey } from './keys.js';
import { profileOf } from '../clients/client-profiles.js';
import { pinnedClients } from './pinned-clients.js';
import { refuseInternalClientUrls, validateClientMetadata } from './client-metadata-checks.js';
import type { ResourceCatalog } from './resources.js';
import { MCP_SCOPE, SUPPORTED_SCOPES } from './scopes.js';
import { rememberedGrantId } from './consent-memory.js';
import { allowAnyLoopbackPortForDocuments } from './loopback-redirects.js';
import { accountClientGrant, accountClientMetadata, isAccountClient } from './account-client.js';
import { acceptNoneWhereDocumentAllows, assertJwtClientAuthClaimsAndHeader, CLOCK_TOLERANCE } from './client-authentication.js';

export interface ProviderDependencies {
  config: GatewayConfig;
  store: KeyValueStore;
  signingKeys: StoredSigningKey[];
  cookieKeys: string[];
  resources: ResourceCatalog;
  accounts: AccountDirectory;
  policy: AccessPolicy;
  renderError: NonNullable<Configuration['renderError']>;
  fetch?: typeof fetch;
}

const AUTHORIZATION_PATH = '/authorize';
const AUTHORIZATION_CODE_TTL = 60;
const INTERACTION_TTL = 60 * 60;
const ID_TOKEN_TTL = 60 * 60;

/** The longest any signed token can live: retired signing keys stay published this long. */
export function maxSignedTokenLifetime(tokens: GatewayConfig['tokens']): number {
  const perClient = Object.values(tokens.clients).map((override) => override?.accessTokenTtl ?? 0);
  return Math.max(tokens.accessTokenTtl, ID_TOKEN_TTL, ...perClient) + 300;
}

/** `tokens.clients.<profile>.accessTokenTtl` for a recognised client, else `tokens.accessTokenTtl`. */
export function accessTokenTtlFor(
  config: Pick<GatewayConfig, 'tokens'>,
  client: { clientId: string; redirectUris?: readonly string[] } | undefined,
): number {
  const profile = client ? profileOf(client) : undefined;
  return (profile && config.tokens.clients[profile.id]?.accessTokenTtl) ?? config.tokens.accessTokenTtl;
}

/**
 * One MCP server per authorization: consent names one server and the grant covers one, so a
 * request listing several `resource`s is refused (redirected to the client as invalid_target)
 * rather than approved for servers the person was never shown.
 */
function refuseSeveralResources(ctx: KoaContextWithOIDC): void {
  const requested = ctx.oidc.params?.resource;
  if (Array.isArray(requested) && requested.length > 1) {
    throw new errors.InvalidTarget(
      `ask for one resource per authorization: this request names ${requested.length}; authorize each MCP server separately`,
    );
  }
}

/** Dynamically registered clients: see ClientLifetimes. */
function clientLifetimes(config: GatewayConfig): ClientLifetimes {
  const { unusedClientTtl, grantTtl, refreshTokenTtl } = config.tokens;
  // A minute more than any grant or refresh token saved at the same moment can live.
  return { unused: unusedClientTtl, inUse: Math.max(unusedClientTtl, grantTtl, refreshTokenTtl) + 60 };
}

/**
 * oidc-provider registers these whatever the features say (logout confirmation) or serves them to
 * anyone holding a token the gateway never issues (registration read): 404, like any unknown path.
 */
const UNSERVED_ROUTES = [/^\/session\/end(\/|$)/, /^\/register\/./];

function refuseUnservedRoutes(provider: Provider): void {
  provider.use(async (ctx, next) => {
    if (UNSERVED_ROUTES.some((route) => route.test(ctx.path))) {
      ctx.status = 404;
      return;
    }
    await next();
  });
}

export function createProvider(deps: ProviderDependencies): Provider {
  const { config, store } = deps;
  const Adapter = createOidcAdapterClass(store, {
    pinnedClients,
    clientTtl: clientLifetimes(config),
  });
  const configuration: Configuration = {
    ...fixedConfiguration(),
    clients: [accountClientMetadata(config.publicUrl)],
    adapter: Adapter,
    jwks: { keys: deps.signingKeys.map((key) => key.jwk) as never },
    cookies: {
      keys: deps.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    features: enabledFeatures(config, deps.resources),
    ttl: tokenLifetimes(config),
    ...grantHandling(store),
    findAccount: allowedAccountFinder(deps.accounts, deps.policy),
    renderError: deps.renderError,
    ...(deps.fetch ? { fetch: deps.fetch as never } : {}),
  };
  const provider = new Provider(config.publicUrl, configuration);
  refuseUnservedRoutes(provider);
  allowAnyLoopbackPortForDocuments(provider);
  // Claude.ai refreshes from two addresses at once, ChatGPT sends the code exchange twice.
  makeTokenExchangesIdempotent(provider, store, {
    refresh_token: config.tokens.refreshGracePeriod,
    authorization_code: DEFAULT_DUPLICATE_CODE_WINDOW,
  });
  // A consent form approved twice: the repeat's resumption goes where the first one went.
  answerRepeatedResumptions(provider, store, AUTHORIZATION_PATH);
  // The gateway itself sets the forwarded headers from publicUrl just before the provider runs.
  provider.proxy = true;
  return provider;
}

/** The settings that do not depend on the config (fresh objects for each provider: oidc-provider keeps what it is given). */
function fixedConfiguration(): Configuration {
  return {
    // Connectors rarely list grant types; without refresh_token they could never refresh.
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    routes: {
      authorization: AUTHORIZATION_PATH,
      token: '/token',
      registration: '/register',
      jwks: '/jwks',
      revocation: '/revoke',
    },
    scopes: SUPPORTED_SCOPES,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    // token_endpoint_auth_methods_supported: kept so a document that also allows `none` is honoured.
    extraClientMetadata: {
      properties: ['software_id', 'token_endpoint_auth_methods_supported'],
      validator: validateClientMetadata as never,
    },
    // Client assertions (RFC 7523): ChatGPT's metadata documents use private_key_jwt.
    assertJwtClientAuthClaimsAndHeader,
    clockTolerance: CLOCK_TOLERANCE,
    clientBasedCORS: () => true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    enableHttpPostMethods: false,
  };
}

function enabledFeatures(config: GatewayConfig, resources: ResourceCatalog): Configuration['features'] {
  return {
    // Only what connectors use is on: every other endpoint is one more thing anyone can call,
    // and RP-initiated logout stored a session for each anonymous GET /session/end.
    devInteractions: { enabled: false },
    // No registration access token: no client reads or manages its registration (RFC 7592).
    registration: { enabled: true, initialAccessToken: false, issueRegistrationAccessToken: refuseInternalClientUrls },
    revocation: { enabled: true },
    userinfo: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    introspection: { enabled: false },
    deviceFlow: { enabled: false },
    backchannelLogout: { enabled: false },
    ciba: { enabled: false },
    clientCredentials: { enabled: false },
    registrationManagement: { enabled: false },
    resourceIndicators: resourceIndicators(config, resources),
    clientIdMetadataDocument: {
      enabled: true,
      ack: 'draft-02',
      allowClient: async (ctx: KoaContextWithOIDC | undefined, client: Client) => {
        acceptNoneWhereDocumentAllows(ctx, client);
        return true;
      },
    },
  } as Configuration['features'];
}

/** What the per-client token lifetime is looked up by. */
type ResourceClient = { clientId: string; redirectUris?: readonly string[] };

/** RFC 8707: every token is for exactly one MCP server of this gateway, with that server as its audience. */
function resourceIndicators(config: GatewayConfig, resources: ResourceCatalog) {
  const resourceServerFor = (indicator: string, client?: ResourceClient): ResourceServer => {
    const audience = resources.canonical(indicator);
    if (!audience) throw new errors.InvalidTarget(`${indicator} is not an MCP server of this gateway`);
    return {
      scope: MCP_SCOPE,
      audience,
      accessTokenTTL: accessTokenTtlFor(config, client),
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: 'RS256' } },
    };
  };
  return {
    enabled: true,
    defaultResource: async (_ctx: unknown, client: ResourceClient | undefined, oneOf?: string[]) => {
      // The account page's sign-in asks for no MCP server.
      if (!oneOf && isAccountClient(client?.clientId)) return undefined as unknown as string;
      if (oneOf) {
        if (oneOf.length === 1) return oneOf[0]!;
        throw new errors.InvalidTarget('request a single resource');
      }
      const sole = resources.soleResource;
      if (!sole) {
        const servers = `${resources.urls.length} MCP servers (${resources.urls.join(', ')})`;
        throw new errors.InvalidTarget(`the resource parameter is required: this gateway serves ${servers}`);
      }
      return sole;
    },
    useGrantedResource: async () => true,
    getResourceServerInfo: async (ctx: KoaContextWithOIDC, indicator: string, client: ResourceClient) => {
      refuseSeveralResources(ctx);
      return resourceServerFor(indicator, client);
    },
  };
}

function tokenLifetimes(config: GatewayConfig): Configuration['ttl'] {
  return {
    // A fixed number here would override the per-client lifetime carried by the resource server.
    AccessToken: (_ctx, token, client) => token.resourceServer?.accessTokenTTL ?? accessTokenTtlFor(config, client),
    AuthorizationCode: AUTHORIZATION_CODE_TTL,
    IdToken: ID_TOKEN_TTL,
    Interaction: INTERACTION_TTL,
    Grant: config.tokens.grantTtl,
    RefreshToken: config.tokens.refreshTokenTtl,
    Session: config.tokens.grantTtl,
  };
}

/** Refresh tokens and grants: connectors refresh without asking, and a remembered consent is found again. */
function grantHandling(store: KeyValueStore): Partial<Configuration> {
  return {
    // Connectors never ask for offline_access; they still need to refresh.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: async (ctx: KoaContextWithOIDC) => {
      // Each refresh keeps the grant alive: its lifetime counts inactivity, not age.
      await ctx.oidc.entities.Grant?.save();
      return true;
    },
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { session, client } = ctx.oidc;
      if (!session?.accountId || !client) return undefined;
      if (isAccountClient(client.clientId)) return accountClientGrant(ctx, session.accountId, session.grantIdFor(client.clientId));
      const grantId =
        ctx.oidc.result?.consent?.grantId ??
        session.grantIdFor(client.clientId) ??
        (await rememberedGrantId(store, session.accountId, client.clientId));
      if (!grantId) return undefined;
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      return grant && grant.accountId === session.accountId && grant.clientId === client.clientId ? grant : undefined;
    },
  };
}

/** Tokens are issued only to accounts the access policy still allows. */
function allowedAccountFinder(accounts: AccountDirectory, policy: AccessPolicy): Configuration['findAccount'] {
  return async (_ctx, sub) => {
    const account = await accounts.findBySub(sub);
    if (!account || !policy.allows(account)) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, email: account.email, email_verified: account.emailVerified, name: account.name }),
    };
  };
}
