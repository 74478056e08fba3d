import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isIP, type LookupFunction } from 'node:net';
import { forbiddenAddressReason } from './address-policy.js';

/** A refused outbound request: the URL or the address it resolves to is not allowed. */
export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface SafeFetchOptions {
  /** Whole request, DNS included. */
  timeoutMs?: number;
  /** Largest body accepted. */
  maxBytes?: number;
  /** The only port allowed (443 outside tests). */
  port?: number;
  /** Name resolution; every address returned is checked. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  /** Why an address is refused, or undefined when it may be used. */
  addressProblem?: (address: string) => string | undefined;
  /** Extra trusted CA certificates (tests). */
  ca?: string | Buffer;
}

export const SAFE_FETCH_DEFAULTS = { timeoutMs: 5000, maxBytes: 256 * 1024, port: 443 } as const;

const resolveAll = (hostname: string): Promise<ResolvedAddress[]> => dnsLookup(hostname, { all: true, verbatim: true });

/** The hostname of a WHATWG URL without IPv6 brackets (WHATWG has already normalised 127.1, 2130706433, 0x7f.1). */
const bareHost = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Why `url` may not be fetched at all (before any DNS), or undefined. */
export function urlProblem(url: URL, port: number = SAFE_FETCH_DEFAULTS.port): string | undefined {
  if (url.protocol !== 'https:') return 'only https URLs are fetched';
  if (url.username || url.password) return 'URLs with credentials are not fetched';
  if ((url.port === '' ? 443 : Number(url.port)) !== port) return `only port ${port} is allowed`;
  const host = bareHost(url);
  if (isIP(host)) return forbiddenAddressReason(host);
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  return undefined;
}

/** DNS of a name a client chose, bounded: a name whose servers never answer must not hold a request (or a resolver thread). */
function resolveWithin(host: string, options: SafeFetchOptions): Promise<ResolvedAddress[]> {
  const timeoutMs = options.timeoutMs ?? SAFE_FETCH_DEFAULTS.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new OutboundRefused(`${host} did not resolve within ${timeoutMs / 1000}s`)), timeoutMs);
  });
  return Promise.race([(options.resolve ?? resolveAll)(host), deadline]).finally(() => clearTimeout(timer));
}

/**
 * Resolves `url`'s host and returns the address to connect to, after refusing the URL when any
 * address it resolves to is not public (a name that mixes public and private answers is refused).
 */
export async function resolvePublicAddress(url: URL, options: SafeFetchOptions = {}): Promise<ResolvedAddress> {
  const problem = urlProblem(url, options.port);
  if (problem) throw new OutboundRefused(`${url.origin}: ${problem}`);
  const host = bareHost(url);
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolveWithin(host, options);
  if (addresses.length === 0) throw new OutboundRefused(`${url.host} does not resolve`);
  const check = options.addressProblem ?? forbiddenAddressReason;
  for (const { address } of addresses) {
    const reason = check(address);
    if (reason) throw new OutboundRefused(`${url.host} resolves to ${address} (${reason})`);
  }
  return addresses[0]!;
}

/** A `lookup` for node's https that always answers the address already checked (no second DNS answer). */
function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  }) as LookupFunction;
}

function requestHeaders(init: RequestInit | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, name) => {
    if (!['host', 'connection', 'accept-encoding', 'content-length'].includes(name)) headers[name] = value;
  });
  if (!headers['user-agent']) headers['user-agent'] = 'mcp-oauth-gateway';
  return headers;
}

function requestBody(init: RequestInit | undefined): Buffer | undefined {
  const body = init?.body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (body instanceof Uint8Array) return Buffer.from(body);
  throw new OutboundRefused('only string, URLSearchParams or byte bodies are sent');
}

/** Reads the whole body, refusing more than `maxBytes`. */
function readBounded(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => {
      reject(new OutboundRefused(`response larger than ${maxBytes} bytes`));
      response.destroy();
    };
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      tooLarge();
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    response.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) tooLarge();
      else chunks.push(chunk);
    });
    response.on('end', () => resolve(Buffer.concat(chunks)));
    response.on('error', reject);
    response.on('aborted', () => reject(new Error('response aborted')));
  });
}

function toResponse(message: IncomingMessage, body: Buffer): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(message.headers)) {
    for (const item of Array.isArray(value) ? value : [value ?? '']) headers.append(name, item);
  }
  const status = message.statusCode ?? 502;
  const noBody = [101, 204, 205, 304].includes(status) || body.length === 0;
  // fetch's Response cannot carry 1xx or out-of-range codes; such an answer is an error here.
  if (status < 200 || status > 599) throw new Error(`unexpected HTTP status ${status}`);
  return new Response(noBody ? null : new Uint8Array(body), { status, statusText: message.statusMessage, headers });
}

/**
 * A `fetch` for URLs that clients choose (Client ID Metadata Documents, jwks_uri,
 * sector_identifier_uri): https on port 443 only; the name is resolved first and every answer
 * must be a public address, and the connection goes to that checked address (with the original
 * name for TLS and Host), so no connection is ever opened to an internal one. Redirects are
 * returned, never followed; size and time are capped. `init.dispatcher` is ignored.
 */
export function createSafeFetch(options: SafeFetchOptions = {}): typeof fetch {
  const timeoutMs = options.timeoutMs ?? SAFE_FETCH_DEFAULTS.timeoutMs;
  const maxBytes = options.maxBytes ?? SAFE_FETCH_DEFAULTS.maxBytes;
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const signals = [AbortSignal.timeout(timeoutMs), ...(init?.signal ? [init.signal] : [])];
    const signal = AbortSignal.any(signals);
    const aborted = new Promise<never>((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error(`${url.origin}: no answer within ${timeoutMs} ms`)), { once: true });
    });
    aborted.catch(() => {});
    const pinned = await Promise.race([resolvePublicAddress(url, options), aborted]);
    const body = requestBody(init);
    const host = bareHost(url);
    return Promise.race([
      aborted,
      new Promise<Response>((resolve, reject) => {
        const request = httpsRequest(
          {
            host,
            port: url.port || 443,
            path: `${url.pathname}${url.search}`,
            method: init?.method ?? 'GET',
            headers: { ...requestHeaders(init), ...(body ? { 'content-length': String(body.length) } : {}) },
            lookup: pinnedLookup(pinned),
            servername: isIP(host) ? undefined : host,
            agent: false,
            signal,
            ca: options.ca,
          },
          (message) => {
            readBounded(message, maxBytes).then((bytes) => resolve(toResponse(message, bytes)), reject);
          },
        );
        request.on('error', reject);
        request.end(body);
      }),
    ]);
  }) as typeof fetch;
}
