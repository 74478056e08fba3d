/**
 * What the upstream sign-in steps share: the pending sign-in kept between the redirect to the
 * identity provider and its callback, the result handed back to the interaction, and the context
 * every handler reads.
 */
import type { Response } from 'express';
import { sha256Text } from '../lib/same-secret.js';
import type { UpstreamRequest } from '../upstream/upstream-provider.js';
import { escapeHtml, SafeHtml } from '../web/views.js';
import type { SignInDependencies } from './sign-in-dependencies.js';

export const PENDING_TTL_S = 10 * 60;
const RESULT_TTL_S = 5 * 60;

export const pendingKey = (state: string) => `upstream:pending:${state}`;
export const resultKey = (uid: string) => `upstream:result:${uid}`;

/** One cookie per sign-in, so two sign-ins started in two tabs do not overwrite each other. */
export const bindingCookie = (state: string) => `mcpgw_upstream_${sha256Text(state).slice(0, 12)}`;

export interface PendingLogin extends UpstreamRequest {
  uid: string;
  provider: string;
  /** The connector being authorized, for the flow trace in the logs. */
  clientId: string;
  /** Hash of the random value in the browser's cookie: the callback must come back to the same browser. */
  bindingHash: string;
}

export type LoginResult = { accountId: string; provider: string } | { error: string; description: string };

export type UpstreamLoginDependencies = SignInDependencies;

export interface UpstreamLoginContext extends UpstreamLoginDependencies {
  secureCookies: boolean;
}

/** A provider id for logs and metric labels: only configured ids, never whatever a URL says. */
export const methodOf = (ctx: UpstreamLoginContext, id: string) => (ctx.upstreams.has(id) ? id : 'unknown');

export const countFailure = (ctx: UpstreamLoginContext, method: string, reason: string) => ctx.metrics?.loginFailed(method, reason);

/** The button on an error page that ends the sign-in and returns the person to the connecting application. */
export function returnToClientForm(ctx: UpstreamLoginContext, uid: string, clientName = 'the application'): SafeHtml {
  return new SafeHtml(
    `<form method="post" action="/interaction/${encodeURIComponent(uid)}/abort">` +
      `<input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf.issue(uid))}">` +
      `<button type="submit" class="primary">Return to ${escapeHtml(clientName)}</button></form>`,
  );
}

/** Leaves the result for the interaction and sends the browser back to it (where oidc-provider's cookie lives). */
export async function finishWith(ctx: UpstreamLoginContext, res: Response, uid: string, result: LoginResult): Promise<void> {
  await ctx.store.set(resultKey(uid), result, RESULT_TTL_S);
  res.redirect(303, `/interaction/${encodeURIComponent(uid)}/upstream-complete`);
}
