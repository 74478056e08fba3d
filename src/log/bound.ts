/**
 * Keeps every log line small whatever a client sends: a request can carry megabytes in a field
 * that gets logged (an MCP `clientInfo`, a redirect URI, a tool name), and one such line would
 * fill disks and stall log shippers. Strings, keys, arrays, objects and nesting are cut, each
 * cut marked, and all strings of a line share one budget.
 */

/** Longest string kept whole; backend stderr lines (up to 2000 chars) still fit. */
export const MAX_STRING = 2048;
const MAX_KEY = 100;
const MAX_ITEMS = 20;
const MAX_KEYS = 40;
const MAX_DEPTH = 4;
/** Characters of strings and keys a whole line may hold, roughly its size in bytes for ASCII. */
export const LINE_BUDGET = 8192;

interface Budget {
  left: number;
}

function boundString(value: string, limit: number, budget: Budget): string {
  const allowed = Math.max(0, Math.min(limit, budget.left));
  budget.left -= Math.min(value.length, allowed);
  if (value.length <= allowed) return value;
  return `${value.slice(0, allowed)}…[${value.length - allowed} more chars]`;
}

const isPlainObject = (value: object): value is Record<string, unknown> => {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

function boundValue(value: unknown, depth: number, budget: Budget): unknown {
  if (typeof value === 'string') return boundString(value, MAX_STRING, budget);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return `[array of ${value.length}]`;
    const kept = value.slice(0, MAX_ITEMS).map((item) => boundValue(item, depth + 1, budget));
    if (value.length > MAX_ITEMS) kept.push(`…[${value.length - MAX_ITEMS} more items]`);
    return kept;
  }
  // Errors, URLs, Dates and the like come from the gateway itself; pino serializes them.
  if (!isPlainObject(value)) return value;
  if (depth >= MAX_DEPTH) return '[object]';
  // No prototype: a client's "__proto__" key stays a plain key.
  const bounded: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let count = 0;
  for (const key in value) {
    if (++count > MAX_KEYS) {
      bounded['…'] = `${Object.keys(value).length - MAX_KEYS} more keys`;
      break;
    }
    bounded[boundString(key, MAX_KEY, budget)] = boundValue(value[key], depth + 1, budget);
  }
  return bounded;
}

/**
 * The fields of one log line, bounded. Returns the same object when nothing needs cutting (the
 * common case, checked without copying: this runs for every line, the tool-call line included).
 */
export function boundLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  let total = 0;
  let count = 0;
  for (const key in fields) {
    const value = fields[key];
    count++;
    total += key.length;
    if (typeof value === 'string') total += value.length;
    else if (value !== null && typeof value === 'object') {
      total = Infinity;
      break;
    }
  }
  if (total <= LINE_BUDGET && count <= MAX_KEYS) return fields;
  return boundValue(fields, -1, { left: LINE_BUDGET }) as Record<string, unknown>;
}

/** What a client says about itself at `initialize`, reduced to the few fields worth a log line. */
export function clientInfoForLog(clientInfo: unknown): Record<string, string> | undefined {
  if (clientInfo === null || typeof clientInfo !== 'object') return undefined;
  const summary: Record<string, string> = {};
  for (const field of ['name', 'title', 'version'] as const) {
    const value = (clientInfo as Record<string, unknown>)[field];
    if (typeof value === 'string')
      summary[field] = value.length > 200 ? `${value.slice(0, 200)}…[${value.length - 200} more chars]` : value;
  }
  return summary;
}
