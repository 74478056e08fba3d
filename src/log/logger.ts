import { pino, type Logger } from 'pino';
import { boundLogFields } from './bound.js';
import { prettyStream } from './pretty.js';

/**
 * Paths that may carry credentials in a log line; pino replaces them. No code path logs these
 * (test/audit-log.test.ts greps every line of a full flow for each secret); this is the net
 * under a future mistake. Top-level and one level down, plus headers and bodies of a request.
 */
const SECRET_FIELDS = [
  'password',
  'passwordHash',
  'clientSecret',
  'client_secret',
  'access_token',
  'refresh_token',
  'id_token',
  'code_verifier',
  'token',
  'authorization',
  'cookie',
  'secretsKey',
  'previousSecretsKey',
];

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

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * A logger for the one line written on every MCP tool call (`mcp.tool_call`), whose fields are
 * fixed and hold no secret: it redacts the same field names at the top level, without the `*.`
 * wildcards, which cost about 20 µs a line, several times the line itself.
 */
export function hotPathLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: SECRET_FIELDS, censor: '[redacted]' } });
}

/** Each logger's bound fields (`logger.child({ server })`) as [key, value] pairs, parsed once per logger. */
const bindingsByLogger = new WeakMap<Logger, Array<[string, unknown]>>();

function bindingsOf(logger: Logger): Array<[string, unknown]> {
  let bindings = bindingsByLogger.get(logger);
  if (!bindings) {
    bindings = Object.entries(logger.bindings());
    bindingsByLogger.set(logger, bindings);
  }
  return bindings;
}

/**
 * Every line passes here before it is written: client-supplied values are bounded, and a field
 * the logger already carries (`child({ server })`) with the same value is not written twice.
 */
function prepareLine(fields: object, _level: number, logger: Logger): object {
  let line = boundLogFields(fields as Record<string, unknown>);
  // A logger has a few bindings and a line several fields: walk the bindings.
  for (const [key, value] of bindingsOf(logger)) {
    if (line[key] === value && Object.hasOwn(line, key)) {
      if (line === fields) line = { ...line };
      delete line[key];
    }
  }
  return line;
}

/** `LOG_FORMAT` when set, else human lines on a terminal and JSON (one object a line) otherwise. */
export function chooseLogFormat(env: NodeJS.ProcessEnv = process.env, stdoutIsTerminal = !!process.stdout.isTTY): LogFormat {
  const requested = env.LOG_FORMAT?.trim().toLowerCase();
  if (!requested) return stdoutIsTerminal ? 'pretty' : 'json';
  if (!(LOG_FORMATS as readonly string[]).includes(requested)) {
    throw new Error(`LOG_FORMAT must be "json" or "pretty", not "${env.LOG_FORMAT}"`);
  }
  return requested as LogFormat;
}

function chooseLevel(requested: string | undefined): string {
  const level = (requested ?? process.env.LOG_LEVEL ?? 'info').trim().toLowerCase() || 'info';
  if (!LEVELS.includes(level))
    throw new Error(`LOG_LEVEL must be one of ${LEVELS.join(', ')}, not "${requested ?? process.env.LOG_LEVEL}"`);
  return level;
}

export interface LoggerOptions {
  level?: string;
  /** Where lines go (tests); stdout when absent. */
  destination?: NodeJS.WritableStream;
  /** JSON unless asked; without a destination, chosen by `chooseLogFormat`. */
  format?: LogFormat;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = chooseLevel(options.level);
  const format = options.format ?? (options.destination ? 'json' : chooseLogFormat());
  const destination =
    format === 'pretty'
      ? prettyStream(options.destination ?? process.stdout)
      : ((options.destination as never) ?? pino.destination({ fd: 1, sync: false }));
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { service: 'mcp-oauth-gateway' },
      mixin: prepareLine as never,
      mixinMergeStrategy: (_fields, prepared) => prepared,
    },
    destination,
  );
}

export type { Logger };
