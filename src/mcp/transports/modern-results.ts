// What a legacy server's answers become on the modern wire (MCP 2026-07-28): every result says
// its resultType and the server's identity, list and read results carry cache hints, and
// server/discover is answered from the initialize result the gateway holds. Pure functions.
import type { JsonRpcError } from '../jsonrpc.js';
import { ALL_PROTOCOL_VERSIONS, META } from '../protocol.js';

/** How long a client may keep a list or read result, and whether a shared cache may hold it. */
export interface CacheHints {
  ttlMs: number;
  cacheScope: 'public' | 'private';
}

/** Results the 2026-07-28 revision makes cacheable (CacheableResult). */
const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'server/discover',
]);

type Result = Record<string, unknown>;

const withServerInfo = (result: Result, serverInfo: unknown): Result => {
  if (!serverInfo) return result;
  const meta = result._meta && typeof result._meta === 'object' ? (result._meta as Result) : {};
  return { ...result, _meta: { ...meta, [META.serverInfo]: serverInfo } };
};

/** A legacy server's result for a modern client: complete, identified, and with cache hints where due. */
export function modernResult(method: string, result: unknown, serverInfo: unknown, hints: CacheHints): Result {
  const translated: Result = { ...(result && typeof result === 'object' ? (result as Result) : {}) };
  translated.resultType ??= 'complete';
  if (CACHEABLE.has(method)) {
    translated.ttlMs ??= hints.ttlMs;
    translated.cacheScope ??= hints.cacheScope;
  }
  return withServerInfo(translated, serverInfo);
}

/** server/discover: the versions the gateway speaks, and what the server said of itself at initialize. */
export function discoverResult(initializeResult: Result | undefined, hints: CacheHints): Result {
  const { capabilities, serverInfo, instructions } = initializeResult ?? {};
  const result: Result = {
    resultType: 'complete',
    supportedVersions: [...ALL_PROTOCOL_VERSIONS],
    capabilities: capabilities && typeof capabilities === 'object' ? capabilities : {},
    ...(typeof instructions === 'string' ? { instructions } : {}),
    ttlMs: hints.ttlMs,
    cacheScope: hints.cacheScope,
  };
  return withServerInfo(result, serverInfo);
}

/** RFC 5424 severities as MCP names them, least severe first. */
const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** Whether a log message of `level` goes to a request that asked for `requested` (none asked: never). */
export function logPasses(requested: string | undefined, level: unknown): boolean {
  if (requested === undefined) return false;
  const wanted = LOG_LEVELS.indexOf(requested);
  const given = LOG_LEVELS.indexOf(typeof level === 'string' ? level : '');
  return wanted === -1 || given === -1 || given >= wanted;
}

/** The notification types a subscriptions/listen request may ask for, and the capability behind each. */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

const LIST_CHANGED: Array<[keyof SubscriptionFilter, string, string]> = [
  ['toolsListChanged', 'tools', 'notifications/tools/list_changed'],
  ['promptsListChanged', 'prompts', 'notifications/prompts/list_changed'],
  ['resourcesListChanged', 'resources', 'notifications/resources/list_changed'],
];

/** The part of a requested filter the server can honour, judged by the capabilities it declared. */
export function acknowledgedFilter(requested: SubscriptionFilter, capabilities: unknown): SubscriptionFilter {
  const declared = (capabilities ?? {}) as Record<string, { listChanged?: unknown; subscribe?: unknown } | undefined>;
  const honoured: SubscriptionFilter = {};
  for (const [field, capability] of LIST_CHANGED) {
    if (requested[field] === true && declared[capability]?.listChanged) (honoured as Record<string, unknown>)[field] = true;
  }
  const uris = requested.resourceSubscriptions;
  if (Array.isArray(uris) && declared.resources?.subscribe)
    honoured.resourceSubscriptions = uris.filter((uri): uri is string => typeof uri === 'string');
  return honoured;
}

/** Whether a notification of `method` belongs on a stream that acknowledged `filter`. */
export function wantedOnStream(filter: SubscriptionFilter, method: string): boolean {
  if (method === 'notifications/resources/updated') return !!filter.resourceSubscriptions?.length;
  const entry = LIST_CHANGED.find(([, , notification]) => notification === method);
  return !!entry && filter[entry[0]] === true;
}

/** The HTTP status of a JSON-RPC error on the modern wire: 404 for an unknown method, 400 for the modern errors. */
export function statusOfError(error: JsonRpcError | undefined): number {
  if (!error) return 200;
  if (error.code === -32601) return 404;
  if (error.code === -32020 || error.code === -32021 || error.code === -32022) return 400;
  return 200;
}
