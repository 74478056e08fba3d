// One HTTP request of `doctor`: plain fetch, a hard time limit, never follows redirects.

/** The hard time limit on one probe. */
export const PROBE_TIMEOUT_MS = 5000;

export interface ProbeResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
}

/** A request that got no HTTP answer (DNS, refused connection, TLS, timeout). */
export class ProbeError extends Error {}

/**
 * Redirects are never followed: where the gateway sends a browser is itself what several checks
 * look at, and following a redirect could carry the request off to another host.
 */
export async function probe(url: string, init: RequestInit = {}): Promise<ProbeResponse> {
  const { origin, pathname } = new URL(url);
  // Without the query: it is long, and the detail column only needs to say which endpoint.
  const request = `${init.method ?? 'GET'} ${origin}${pathname}`;
  const earlier = unreachable.get(origin);
  if (earlier) throw new ProbeError(`${request}: not tried, ${origin} did not answer before (${earlier})`);
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    text = await response.text();
  } catch (error) {
    const message = networkErrorMessage(error);
    if (!unreachable.has(origin)) unreachable.set(origin, message);
    throw new ProbeError(`${request}: ${message}`);
  }
  return { status: response.status, headers: response.headers, text, json: parseJson(text) };
}

/**
 * Origins that gave no HTTP answer at all. Every check still gets its row, but a host that is down
 * or filtered fails the rest at once instead of costing a 5 s timeout per request.
 */
const unreachable = new Map<string, string>();

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** undici hides the useful part ("ECONNREFUSED", "certificate has expired") in `cause`. */
function networkErrorMessage(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code && cause.message && !cause.message.includes(cause.code)) return `${cause.code}: ${cause.message}`;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** A JSON object body, or undefined (arrays, strings and HTML pages are not metadata). */
export function jsonObject(response: ProbeResponse): Record<string, unknown> | undefined {
  const { json } = response;
  return json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
}

/** `error: description` of an OAuth error body, for a detail column (never the whole body: it may hold secrets). */
export function oauthError(response: ProbeResponse): string | undefined {
  const body = jsonObject(response);
  if (typeof body?.error !== 'string') return undefined;
  return typeof body.error_description === 'string' ? `${body.error}: ${body.error_description}` : body.error;
}

/** A comma-separated header as lower-case items. */
export function headerItems(headers: Headers, name: string): string[] {
  return (headers.get(name) ?? '')
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean);
}
