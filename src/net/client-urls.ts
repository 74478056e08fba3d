import { resolvePublicAddress, urlProblem, type SafeFetchOptions } from './safe-fetch.js';

/** Client metadata whose URLs the gateway fetches later (through the safe fetch). */
export const FETCHED_CLIENT_URLS = ['jwks_uri', 'sector_identifier_uri'] as const;

function parsed(name: string, value: unknown): URL | string {
  if (typeof value !== 'string') return `${name} must be a URL string`;
  try {
    return new URL(value);
  } catch {
    return `${name} is not a valid URL`;
  }
}

const explain = (name: string, reason: string) => `${name} must be an https URL (port 443) of a public host: ${reason}`;

/**
 * What is wrong with a client's jwks_uri / sector_identifier_uri, judged without DNS (for the
 * synchronous metadata validator): https, port 443, no literal internal address, not localhost.
 */
export function fetchedClientUrlProblem(metadata: Record<string, unknown>): string | undefined {
  for (const name of FETCHED_CLIENT_URLS) {
    if (metadata[name] === undefined) continue;
    const url = parsed(name, metadata[name]);
    if (typeof url === 'string') return url;
    const problem = urlProblem(url);
    if (problem) return explain(name, problem);
  }
  return undefined;
}

/** The same, after resolving each host: every address it resolves to must be public. */
export async function unresolvableClientUrlProblem(
  metadata: Record<string, unknown>,
  options: SafeFetchOptions = {},
): Promise<string | undefined> {
  const early = fetchedClientUrlProblem(metadata);
  if (early) return early;
  for (const name of FETCHED_CLIENT_URLS) {
    if (metadata[name] === undefined) continue;
    const url = new URL(String(metadata[name]));
    try {
      await resolvePublicAddress(url, options);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return explain(name, code ? `${url.hostname} does not resolve (${code})` : (error as Error).message);
    }
  }
  return undefined;
}
