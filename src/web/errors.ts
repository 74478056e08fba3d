/**
 * The one error type of the gateway. Whatever surface a failure reaches (a JSON-RPC body on
 * /mcp, an OAuth JSON body on /token or /register, an HTML page in the browser), it is thrown as a
 * GatewayError and rendered once per surface by that surface's renderer (see `toJsonRpcError`,
 * `toOAuthBody` and the error page in views). Modelled on oidc-provider's own errors:
 * `status`, `error` (a machine-readable code), and `expose` (whether `message` may be shown).
 */
export interface GatewayErrorOptions {
  /** Whether `message` may be shown to the caller; defaults to true below 500. */
  expose?: boolean;
  /** The JSON-RPC error code when the failure reaches an MCP client (default InvalidRequest, or InternalError at 500+). */
  jsonRpcCode?: number;
  /** Extra response headers (Retry-After, WWW-Authenticate). */
  headers?: Record<string, string>;
  /** Structured data for the JSON-RPC `data` member or the OAuth body. */
  data?: Record<string, unknown>;
  cause?: unknown;
}

export const JSON_RPC_INVALID_REQUEST = -32600;
export const JSON_RPC_INTERNAL_ERROR = -32603;

export class GatewayError extends Error {
  readonly expose: boolean;
  readonly jsonRpcCode: number;
  readonly headers: Record<string, string>;
  readonly data?: Record<string, unknown>;

  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    options: GatewayErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.expose = options.expose ?? status < 500;
    this.jsonRpcCode = options.jsonRpcCode ?? (status >= 500 ? JSON_RPC_INTERNAL_ERROR : JSON_RPC_INVALID_REQUEST);
    this.headers = options.headers ?? {};
    this.data = options.data;
  }

  /** What the caller may read: the message when exposed, a generic line otherwise. */
  get publicMessage(): string {
    return this.expose ? this.message : 'the gateway could not complete this request';
  }
}

/** Storage (LMDB or Redis) cannot be reached: every surface answers 503 with Retry-After. */
export class StorageUnavailable extends GatewayError {
  constructor(cause?: unknown, retryAfterSeconds = 5) {
    super(503, 'temporarily_unavailable', 'storage is unreachable; try again shortly', {
      expose: true,
      headers: { 'Retry-After': String(retryAfterSeconds) },
      cause,
    });
    this.name = 'StorageUnavailable';
  }
}

/** Anything thrown, as a GatewayError (unknown errors become an unexposed 500). */
export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError(500, 'server_error', error instanceof Error ? error.message : String(error), { expose: false, cause: error });
}

/** Over a rate limit: 429 with Retry-After, and `retry_after` in an OAuth body. */
export class RateLimited extends GatewayError {
  /** `reason` says what was refused ("too many token requests from this address"); the message adds when to retry. */
  constructor(
    readonly reason: string,
    readonly retryAfter: number,
  ) {
    super(429, 'rate_limited', `${reason}; retry in ${retryAfter} seconds`, {
      headers: { 'Retry-After': String(retryAfter) },
      data: { retry_after: retryAfter },
    });
    this.name = 'RateLimited';
  }
}
