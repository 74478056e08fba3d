import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Size limits on client metadata, whoever supplies it (dynamic registration, a fetched or pinned
 * Client ID Metadata Document): a client's name and URLs end up on the sign-in and consent pages
 * and in storage, and anyone may register. Real clients stay far below these.
 */
export const CLIENT_METADATA_LIMITS = {
  /** Characters of `client_name`. */
  clientName: 200,
  /** Characters of each URL: `client_uri`, `logo_uri`, …, and each redirect URI. */
  url: 2000,
  /** Entries of `redirect_uris` (and of `post_logout_redirect_uris`, `request_uris`). */
  redirectUris: 20,
  /** Bytes of the whole metadata document, as JSON. */
  documentBytes: 10_000,
  /** Bytes of a POST /register request body. */
  registrationBody: 16_384,
} as const;

/** Metadata fields holding one URL. */
const URL_FIELDS = ['client_uri', 'logo_uri', 'policy_uri', 'tos_uri', 'jwks_uri', 'sector_identifier_uri', 'initiate_login_uri'];
/** Metadata fields holding a list of URLs. */
const URL_LIST_FIELDS = ['redirect_uris', 'post_logout_redirect_uris', 'request_uris'];

const characters = (field: string, length: number, limit: number) => `${field} is ${length} characters long; at most ${limit} are accepted`;

function urlListProblem(field: string, value: unknown): string | undefined {
  if (!Array.isArray(value)) return undefined;
  // Worded so the description does not begin with "redirect_uris" (oidc-provider would relabel it invalid_redirect_uri).
  if (value.length > CLIENT_METADATA_LIMITS.redirectUris) {
    return `too many ${field}: ${value.length}; at most ${CLIENT_METADATA_LIMITS.redirectUris} are accepted`;
  }
  const long = value.find((entry) => typeof entry === 'string' && entry.length > CLIENT_METADATA_LIMITS.url) as string | undefined;
  return long === undefined ? undefined : `an entry of ${characters(field, long.length, CLIENT_METADATA_LIMITS.url)}`;
}

/** Why this metadata is too large to accept (naming the field), or undefined when it fits. */
export function clientMetadataSizeProblem(metadata: Record<string, unknown>): string | undefined {
  const name = metadata.client_name;
  if (typeof name === 'string' && name.length > CLIENT_METADATA_LIMITS.clientName) {
    return characters('client_name', name.length, CLIENT_METADATA_LIMITS.clientName);
  }
  for (const field of URL_FIELDS) {
    const value = metadata[field];
    if (typeof value === 'string' && value.length > CLIENT_METADATA_LIMITS.url)
      return characters(field, value.length, CLIENT_METADATA_LIMITS.url);
  }
  for (const field of URL_LIST_FIELDS) {
    const problem = urlListProblem(field, metadata[field]);
    if (problem) return problem;
  }
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > CLIENT_METADATA_LIMITS.documentBytes) {
    return `the client metadata is ${bytes} bytes as JSON; at most ${CLIENT_METADATA_LIMITS.documentBytes} bytes are accepted`;
  }
  return undefined;
}

/**
 * Refuses a POST /register whose declared body is over the limit before oidc-provider reads it
 * (oidc-provider itself reads up to 56 KB; a chunked body without Content-Length stays under that
 * cap, and what it registers is bounded by the limits above).
 */
export function registrationBodyLimit(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!(declared > CLIENT_METADATA_LIMITS.registrationBody)) {
    next();
    return;
  }
  res.writeHead(400, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'close' });
  res.end(
    JSON.stringify({
      error: 'invalid_client_metadata',
      error_description:
        `the registration request body is ${declared} bytes; ` + `at most ${CLIENT_METADATA_LIMITS.registrationBody} bytes are accepted`,
    }),
  );
}
