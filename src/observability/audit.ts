import type { Logger } from '../log/logger.js';

/**
 * Audit events: one JSON log line per security-relevant decision, each with `audit: true` and an
 * `event` name, so `jq 'select(.audit)'` gives the whole trail. The names are also the steps of
 * the OAuth flow trace (a client's connection can be followed by its clientId). README lists them.
 */
export const AUDIT_EVENTS = [
  'register', // a client registered (clientId, clientName, redirectUris)
  'login.success', // outcome success; method (password or provider id), who (email), sub, clientId
  'login.failed', // wrong email or password; method password, who, ip, clientId
  'login.throttled', // too many failed passwords for this account or IP
  'login.rate_limited', // too many sign-in attempts from this IP (rateLimits.login)
  'login.refused', // signed in, but not allowed by the access rules
  'login.upstream.error', // the identity provider answered with an error (or the person cancelled there)
  'login.upstream.failed', // the provider's answer could not be verified
  'login.upstream.invalid_state', // a callback with an unknown, used or expired state
  'login.upstream.foreign_browser', // a callback in a browser that did not start the sign-in
  'consent.granted', // sub, clientId, resource
  'consent.denied', // sub, clientId, resource
  'token.issued', // grantType, clientId, sub, resource, scope
  'grant.revoked', // grantId, clientId (and sub, by: "account page" when the person revoked it there)
  'mcp.tool_call', // sub, clientId, server, tool, outcome, durationMs
  'secret.set', // sub, server, name (never the value)
  'secret.deleted', // sub, server, name
  'rate_limited', // limit (register, token, mcp), key (ip or sub), retryAfter
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/** Writes one audit event. `fields` must never hold a secret (tokens, codes, passwords). */
export function audit(
  logger: Logger,
  event: AuditEvent,
  fields: Record<string, unknown>,
  message: string,
  level: 'info' | 'warn' = 'info',
): void {
  logger[level]({ audit: true, event, ...fields }, message);
}

/** What a person typed as their email, for the log: never something that looks like a password typed in the wrong field. */
export function loggableEmail(value: string): string | undefined {
  if (!value) return undefined;
  return /^[^\s@]{1,64}@[^\s@]{1,255}$/.test(value) ? value : '(not an email address)';
}
