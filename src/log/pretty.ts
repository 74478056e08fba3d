import pinoPretty from 'pino-pretty';

/** Fields every line has, or that pino-pretty shows itself: not repeated as key=value. */
const SHOWN_ELSEWHERE = new Set(['level', 'time', 'msg', 'service', 'hostname']);

/** `key=value`, quoting only what would be ambiguous unquoted. */
function pair(key: string, value: unknown): string {
  if (typeof value === 'string') return `${key}=${/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`;
  if (value !== null && typeof value === 'object') return `${key}=${JSON.stringify(value)}`;
  return `${key}=${String(value)}`;
}

/** An error as pino serializes it ({ type, message, stack }): shown as its message, its stack below the line. */
function serializedError(value: unknown): { message: string; stack?: string } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { message, stack } = value as { message?: unknown; stack?: unknown };
  return typeof message === 'string' && typeof stack === 'string' ? { message, stack } : undefined;
}

/** "MCP session opened  server=docs sub=4f… email=ann@example.com": the message, then each field once. */
export function formatPrettyMessage(log: Record<string, unknown>, messageKey = 'msg'): string {
  const fields: string[] = [];
  let stack = '';
  for (const [key, value] of Object.entries(log)) {
    if (SHOWN_ELSEWHERE.has(key) || key === messageKey || value === undefined) continue;
    const error = serializedError(value);
    if (error) {
      fields.push(pair(key, error.message));
      if (error.stack)
        stack = `\n    ${error.stack
          .split('\n')
          .slice(1)
          .map((line) => line.trim())
          .join('\n    ')}`;
    } else {
      fields.push(pair(key, value));
    }
  }
  const message = typeof log[messageKey] === 'string' ? (log[messageKey] as string) : '';
  return `${fields.length > 0 ? `${message}  ${fields.join(' ')}` : message}${stack}`;
}

/** Human lines for a person watching a terminal; colours only when the output is one. */
export function prettyStream(destination: NodeJS.WritableStream): NodeJS.WritableStream {
  return pinoPretty({
    destination,
    colorize: !!(destination as { isTTY?: boolean }).isTTY,
    translateTime: 'SYS:HH:MM:ss.l',
    // Our pid field is a stdio server's (base bindings drop the gateway's own); shown as pid=…
    ignore: 'pid,hostname,service',
    hideObject: true,
    messageFormat: (log, messageKey) => formatPrettyMessage(log, messageKey),
    sync: true,
  }) as NodeJS.WritableStream;
}
