import type { ClientMetadata, KoaContextWithOIDC } from 'oidc-provider';
import { escapeHtml, SafeHtml } from '../web/views.js';
import { MCP_SCOPE } from './scopes.js';

/**
 * The account page signs people in through the authorization server like any application, as this
 * first-party client: the same login methods, throttles and access rules, and the same session
 * cookie afterwards. It never exchanges its code (the page reads the session), asks for no MCP
 * server, and is never shown a consent page.
 */
export const ACCOUNT_CLIENT_ID = 'mcp-oauth-gateway-account';

export const ACCOUNT_SIGNED_IN_PATH = '/account/signed-in';

export function accountClientMetadata(publicUrl: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'your account page',
    redirect_uris: [`${publicUrl}${ACCOUNT_SIGNED_IN_PATH}`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'openid',
  };
}

export const isAccountClient = (clientId: string | undefined): boolean => clientId === ACCOUNT_CLIENT_ID;

/**
 * The grant of the account client: only the sign-in itself, granted without a consent page (the person is
 * signing in to this gateway itself, not letting an application act for them).
 */
export async function accountClientGrant(ctx: KoaContextWithOIDC, accountId: string, existingGrantId: string | undefined) {
  const { Grant } = ctx.oidc.provider;
  const existing = existingGrantId ? await Grant.find(existingGrantId) : undefined;
  if (existing && existing.accountId === accountId && existing.clientId === ACCOUNT_CLIENT_ID) return existing;
  const grant = new Grant({ accountId, clientId: ACCOUNT_CLIENT_ID });
  // The gateway adds the MCP scope to every authorization request (authorize-request.ts); without a
  // resource it is one more scope of the sign-in itself, which gives access to nothing.
  grant.addOIDCScope(`openid ${MCP_SCOPE}`);
  await grant.save();
  return grant;
}

/** The sign-in page's lead line: what the person is signing in for. */
export function accountSignInLead(about: { clientId: string; clientName: string; serverName: string }): { lead: SafeHtml } {
  if (isAccountClient(about.clientId)) return { lead: new SafeHtml('to see and change your account on this gateway') };
  return {
    lead: new SafeHtml(`to connect <strong>${escapeHtml(about.clientName)}</strong> to <strong>${escapeHtml(about.serverName)}</strong>`),
  };
}
