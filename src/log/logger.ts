import { pino, type Logger } from 'pino';

/**
 * Paths that may carry credentials in a log line; pino replaces them. No code path logs these
 * (test/audit-log.test.ts greps every line of a full flow for each secret); this is the net
 * under a future mistake. Top-level and one level down, plus headers and bodies of a request.
 */
const SECRET_FIELDS = ['password', 'passwordHash', 'clientSecret', 'client_secret', 'access_token', 'refresh_token', 'id_token', 'code_verifier', 'token', 'authorization', 'cookie'];

export const REDACTED_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'req.body.code',
  ...SECRET_FIELDS.map((field) => `req.body.${field}`),
];

/**
 * A logger for the one line written on every MCP tool call (`mcp.tool_call`), whose fields are
 * fixed and hold no secret: it redacts the same field names at the top level, without the `*.`
 * wildcards, which cost about 20 µs a line, several times the line itself.
 */
export function hotPathLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: SECRET_FIELDS, censor: '[redacted]' } });
}

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'mcp-oauth-gateway' } },
    options.destination as never ?? pino.destination({ fd: 1, sync: false }));
}

export type { Logger };
