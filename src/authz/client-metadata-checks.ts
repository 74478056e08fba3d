/**
 * The rules every client's metadata must follow, whoever supplies it: dynamic registration,
 * stored clients, fetched and pinned Client ID Metadata Documents.
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { fetchedClientUrlProblem, unresolvableClientUrlProblem } from '../net/client-urls.js';
import { clientMetadataSizeProblem } from './client-metadata-limits.js';
import { redirectUriProblem } from './redirect-uri-policy.js';
import { MCP_SCOPE, SUPPORTED_SCOPES } from './scopes.js';

type ClientMetadata = Record<string, unknown>;
/** A rule for client metadata: throws an OAuth error saying what is wrong, or returns. */
type ClientMetadataCheck = (metadata: ClientMetadata) => void;

function invalidRedirectUri(description: string): Error {
  const error = new errors.InvalidRedirectUri();
  error.error_description = description;
  return error;
}

const withinSizeLimits: ClientMetadataCheck = (metadata) => {
  const problem = clientMetadataSizeProblem(metadata);
  if (problem) throw new errors.InvalidClientMetadata(problem);
};

const redirectUrisFollowPolicy: ClientMetadataCheck = (metadata) => {
  const uris = metadata.redirect_uris;
  if (uris === undefined) return;
  if (!Array.isArray(uris)) throw invalidRedirectUri('redirect_uris must be an array of URLs');
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw invalidRedirectUri(problem);
  }
};

/** jwks_uri and sector_identifier_uri: https to a public host (the name is resolved at registration, below). */
const fetchedUrlsArePublic: ClientMetadataCheck = (metadata) => {
  const problem = fetchedClientUrlProblem(metadata);
  if (problem) throw new errors.InvalidClientMetadata(problem);
};

/** The one awaited registration hook that sees the body before the client is stored: resolves those hosts. */
export async function refuseInternalClientUrls(ctx: KoaContextWithOIDC): Promise<boolean> {
  const problem = await unresolvableClientUrlProblem((ctx.oidc.body ?? {}) as ClientMetadata);
  if (problem) throw new errors.InvalidClientMetadata(problem);
  return false; // still no registration access token
}

/** A client that registered a narrower scope list must still be able to ask for the MCP scope. */
const scopeIncludesMcp: ClientMetadataCheck = (metadata) => {
  if (typeof metadata.scope !== 'string') return;
  const kept = metadata.scope.split(' ').filter((scope) => SUPPORTED_SCOPES.includes(scope));
  metadata.scope = [...new Set([...kept, MCP_SCOPE])].join(' ');
};

/** In order; the size limits first, so nothing else reads an oversized document. */
const clientMetadataChecks: ClientMetadataCheck[] = [withinSizeLimits, fetchedUrlsArePublic, redirectUrisFollowPolicy, scopeIncludesMcp];

/**
 * oidc-provider calls this (once per extra property) for every client it builds: dynamic
 * registrations, stored clients, fetched and pinned Client ID Metadata Documents.
 */
export function validateClientMetadata(_ctx: unknown, key: string, _value: unknown, metadata: ClientMetadata): void {
  if (key !== 'software_id') return;
  for (const check of clientMetadataChecks) check(metadata);
}
