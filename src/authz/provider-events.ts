import type { Request } from 'express';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { unverifiedJwtClaims } from '../lib/unverified-jwt.js';
import type { Logger } from '../log/logger.js';
import { audit } from '../observability/audit.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { storageReachable } from '../storage/storage-reachable.js';
import type { KeyValueStore } from '../storage/store.js';
import { pageTextOf, type ErrorPages } from '../web/error-pages.js';
import { StorageUnavailable } from '../web/errors.js';
import { oauthErrorBody } from '../web/oauth-errors.js';
import { profileOf } from '../clients/client-profiles.js';
import { wasReplayed } from './idempotent-token-exchange.js';

/**
 * An authorization server request that failed because storage is away gets 503 with Retry-After
 * (clients retry) instead of a 500 that reads like a bug: the StorageUnavailable body of its
 * surface, OAuth JSON or the HTML page. It recovers when storage does.
 */
export function answerUnavailableWhileStorageIsDown(provider: Provider, store: KeyValueStore, pages: ErrorPages): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status !== 500 || (await storageReachable(store))) return;
    const error = new StorageUnavailable();
    ctx.status = error.status;
    ctx.set(error.headers);
    if (typeof ctx.body === 'string') ctx.body = pages.html(ctx.req.id, pageTextOf(error));
    else if (ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)) ctx.body = oauthErrorBody(error);
  });
}

/** What the client was told, and oidc-provider's detail that it was not told. */
function refusal(error: unknown) {
  const {
    error: code,
    error_description: description,
    error_detail: detail,
  } = error as { error?: string; error_description?: string; error_detail?: string };
  return { error: code, description, detail };
}

/**
 * The OAuth flow trace: one structured event per step (register → authorize → login → consent →
 * code → token, then mcp.session), each carrying the clientId (and sub once known), so a failed
 * connection can be followed with one grep for the client id. Errors carry the body the client got.
 */
export function observeProvider(provider: Provider, logger: Logger, metrics?: GatewayMetrics): void {
  provider.on('server_error', (ctx, error) =>
    logger.error({ err: error, requestId: ctx.req.id, path: ctx.path, clientId: ctx.oidc?.client?.clientId }, 'authorization server error'),
  );
  observeRegistration(provider, logger);
  observeAuthorization(provider, logger);
  observeTokens(provider, logger, metrics);
  observeRevocations(provider, logger);
}

/** What came of a /revoke call, in words; a token presented by another client is not revoked (oidc-provider's policy). */
function revocationOutcome(ctx: KoaContextWithOIDC): string {
  if (ctx.status !== 200) return `refused: ${(ctx.body as { error?: string } | undefined)?.error ?? `HTTP ${ctx.status}`}`;
  const entities = ctx.oidc?.entities as Record<string, { clientId?: string } | undefined> | undefined;
  const token = entities?.RefreshToken ?? entities?.AccessToken;
  if (!token) return 'no such token (already revoked, expired or never issued): nothing to do';
  return token.clientId === ctx.oidc?.client?.clientId ? 'revoked' : "not revoked: another client's token";
}

/** Every /revoke call gets one info line: which client, the token type it hinted, the outcome; never the token. */
function observeRevocations(provider: Provider, logger: Logger): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/revoke') return;
    const params = (ctx.oidc?.params ?? {}) as Record<string, unknown>;
    const fields = {
      event: 'token.revoke',
      requestId: ctx.req.id,
      clientId: ctx.oidc?.client?.clientId ?? params.client_id,
      tokenTypeHint: params.token_type_hint,
      outcome: revocationOutcome(ctx as KoaContextWithOIDC),
    };
    logger.info(fields, 'revocation request');
  });
}

function observeRegistration(provider: Provider, logger: Logger): void {
  provider.on('registration_create.success', (ctx, client) =>
    audit(
      logger,
      'register',
      {
        requestId: ctx.req.id,
        clientId: client.clientId,
        clientName: client.clientName,
        redirectUris: client.redirectUris,
        tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
        profile: profileOf(client)?.id,
        ip: (ctx.req as unknown as Request).ip,
      },
      'client registered',
    ),
  );
  provider.on('registration_create.error', (ctx, error) =>
    logger.info({ event: 'register.error', requestId: ctx.req.id, ...refusal(error) }, 'registration refused'),
  );
}

/** From the authorization request to the code: granted silently, prompted, issued or refused. */
function observeAuthorization(provider: Provider, logger: Logger): void {
  provider.on('authorization.accepted', (ctx) => {
    const { client } = ctx.oidc;
    logger.info(
      {
        event: 'authorize.accepted',
        requestId: ctx.req.id,
        clientId: client?.clientId,
        sub: ctx.oidc.session?.accountId,
        profile: client ? profileOf(client)?.id : undefined,
      },
      'authorization granted without asking',
    );
  });
  provider.on('interaction.started', (ctx, prompt) =>
    logger.info(
      {
        event: 'authorize.prompt',
        requestId: ctx.req.id,
        clientId: ctx.oidc.client?.clientId,
        sub: ctx.oidc.session?.accountId,
        prompt: prompt.name,
        reasons: prompt.reasons,
      },
      'person asked to sign in or consent',
    ),
  );
  provider.on('authorization.success', (ctx) =>
    logger.info(
      { event: 'code.issued', requestId: ctx.req.id, clientId: ctx.oidc.client?.clientId, sub: ctx.oidc.session?.accountId },
      'authorization code sent to the client',
    ),
  );
  provider.on('authorization.error', (ctx, error) =>
    logger.info(
      { event: 'authorize.error', requestId: ctx.req.id, clientId: ctx.oidc.client?.clientId, ...refusal(error) },
      'authorization request refused',
    ),
  );
}

/** Token issue, refusal and revocation, with their metrics. */
function observeTokens(provider: Provider, logger: Logger, metrics?: GatewayMetrics): void {
  provider.on('grant.success', (ctx) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? '');
    if (wasReplayed(ctx)) {
      // A repeat within its window got the first answer again: nothing new was issued.
      const fields = { event: 'token.replayed', requestId: ctx.req.id, clientId: ctx.oidc.client?.clientId, grantType };
      logger.info(fields, 'repeated token request answered as before');
      return;
    }
    const body = ctx.body as { access_token?: string; expires_in?: number; refresh_token?: string; scope?: string } | undefined;
    metrics?.tokenIssued(grantType);
    audit(
      logger,
      'token.issued',
      {
        requestId: ctx.req.id,
        clientId: ctx.oidc.client?.clientId,
        sub: ctx.oidc.account?.accountId,
        grantType,
        // The MCP server's resource URL, read back from the token just signed, for the log only.
        resource: unverifiedJwtClaims(body?.access_token)?.aud,
        expiresIn: body?.expires_in,
        refreshToken: Boolean(body?.refresh_token),
        scope: body?.scope,
      },
      'tokens issued',
    );
  });
  provider.on('grant.error', (ctx, error) =>
    logger.info(
      {
        event: 'token.error',
        requestId: ctx.req.id,
        clientId: ctx.oidc.client?.clientId,
        grantType: ctx.oidc.params?.grant_type,
        ...refusal(error),
      },
      'token request refused',
    ),
  );
  provider.on('grant.revoked', (ctx, grantId) => {
    metrics?.grantRevoked();
    audit(
      logger,
      'grant.revoked',
      { requestId: ctx.req.id, grantId, clientId: ctx.oidc.client?.clientId, sub: ctx.oidc.entities?.RefreshToken?.accountId },
      'grant revoked',
      'warn',
    );
  });
}
