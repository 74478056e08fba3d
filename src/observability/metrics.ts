// The gateway's Prometheus series and the allocation-free cells the hot path increments. Over 300
// lines with its comments (about 270 of code): every series is declared here so /metrics is read in
// one place.
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';

/** How a tools/call ended, as the metrics and the audit log name it. */
export type ToolCallOutcome = 'ok' | 'error' | 'timeout' | 'cancelled' | 'crashed';
const OUTCOMES: readonly ToolCallOutcome[] = ['ok', 'error', 'timeout', 'cancelled', 'crashed'];
const OUTCOME_INDEX: Record<ToolCallOutcome, number> = { ok: 0, error: 1, timeout: 2, cancelled: 3, crashed: 4 };

/** Tool-call latency buckets, in seconds, up to the default callTimeout (what the clients wait for a tool call). */
export const TOOL_CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Tool names a client asks for are not trusted as labels: at most this many per server, then "other". */
const MAX_TOOL_LABELS_PER_SERVER = 200;
export const OTHER_TOOL = 'other';

/**
 * The metric names, all under `mcpgw_` (plus Node's default process_* and nodejs_* series).
 * The README lists them; tests read them from here.
 */
export const METRIC_NAMES = {
  httpRequests: 'mcpgw_http_requests_total',
  toolCalls: 'mcpgw_tool_calls_total',
  toolCallDuration: 'mcpgw_tool_call_duration_seconds',
  tokensIssued: 'mcpgw_tokens_issued_total',
  grantsRevoked: 'mcpgw_grants_revoked_total',
  logins: 'mcpgw_logins_total',
  loginFailures: 'mcpgw_login_failures_total',
  stdioRestarts: 'mcpgw_stdio_restarts_total',
  rateLimited: 'mcpgw_rate_limited_total',
  sessions: 'mcpgw_mcp_sessions',
  stdioProcesses: 'mcpgw_stdio_processes',
} as const;

/** One label combination of the tool-call histogram; observing allocates nothing. */
class ToolSeries {
  readonly buckets = new Float64Array(TOOL_CALL_BUCKETS.length);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    this.count += 1;
    for (let i = 0; i < TOOL_CALL_BUCKETS.length; i++) {
      if (seconds <= TOOL_CALL_BUCKETS[i]!) {
        this.buckets[i]! += 1;
        return;
      }
    }
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/**
 * The tool-call counter and histogram, kept in plain numbers on the hot path (nested maps looked up
 * by the label values, no label objects or hash strings per call) and turned into Prometheus
 * series only when scraped. Registered with prom-client as two custom metrics.
 */
class ToolCallStats {
  /** server -> tool label -> series by outcome index */
  private readonly series = new Map<string, Map<string, Array<ToolSeries | undefined>>>();
  /** Tool names seen in tools/list answers or in successful calls, per server. */
  private readonly known = new Map<string, Set<string>>();

  private knownTools(server: string): Set<string> {
    let names = this.known.get(server);
    if (!names) {
      names = new Set();
      this.known.set(server, names);
    }
    return names;
  }

  /** Names the server itself offers become labels (up to the cap). */
  learn(server: string, names: Iterable<string>): void {
    const known = this.knownTools(server);
    for (const name of names) {
      if (known.size >= MAX_TOOL_LABELS_PER_SERVER) return;
      if (name.length <= 128) known.add(name);
    }
  }

  record(server: string, tool: string, outcome: ToolCallOutcome, seconds: number): void {
    const known = this.knownTools(server);
    if (!known.has(tool) && outcome === 'ok' && known.size < MAX_TOOL_LABELS_PER_SERVER && tool.length <= 128) known.add(tool);
    const label = known.has(tool) ? tool : OTHER_TOOL;
    let byTool = this.series.get(server);
    if (!byTool) {
      byTool = new Map();
      this.series.set(server, byTool);
    }
    let byOutcome = byTool.get(label);
    if (!byOutcome) {
      byOutcome = [undefined, undefined, undefined, undefined, undefined];
      byTool.set(label, byOutcome);
    }
    const index = OUTCOME_INDEX[outcome];
    let series = byOutcome[index];
    if (!series) {
      series = new ToolSeries();
      byOutcome[index] = series;
    }
    series.observe(seconds);
  }

  *entries(): Generator<[Record<string, string>, ToolSeries]> {
    for (const [server, byTool] of this.series) {
      for (const [tool, byOutcome] of byTool) {
        for (let i = 0; i < OUTCOMES.length; i++) {
          const series = byOutcome[i];
          if (series) yield [{ server, tool, outcome: OUTCOMES[i]! }, series];
        }
      }
    }
  }
}

/** A counter with fixed labels whose cells are found through nested maps: no allocation per increment. */
class CellCounter {
  private readonly root = new Map<string | number, unknown>();

  constructor(private readonly labelNames: readonly string[]) {}

  /** Adds one to the cell of (route, method, status). */
  increment(a: string, b: string, c: number): void {
    let level1 = this.root.get(a) as Map<string, Map<number, { value: number }>> | undefined;
    if (!level1) {
      level1 = new Map();
      this.root.set(a, level1);
    }
    let level2 = level1.get(b);
    if (!level2) {
      level2 = new Map();
      level1.set(b, level2);
    }
    const cell = level2.get(c);
    if (cell) cell.value += 1;
    else level2.set(c, { value: 1 });
  }

  values(): MetricValue[] {
    const out: MetricValue[] = [];
    const [na, nb, nc] = this.labelNames as [string, string, string];
    for (const [a, level1] of this.root as Map<string, Map<string, Map<number, { value: number }>>>) {
      for (const [b, level2] of level1) {
        for (const [c, cell] of level2) out.push({ labels: { [na]: a, [nb]: b, [nc]: String(c) }, value: cell.value });
      }
    }
    return out;
  }
}

/** A metric prom-client's Registry can render, computed at scrape time. */
function customMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue[]): Metric {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => {},
  } as unknown as Metric;
}

/** What the gauges read from the bridge when scraped. */
export interface BridgeStats {
  stats(): Array<{ server: string; sessions: number; processes: number }>;
}

/**
 * The gateway's Prometheus metrics, on a registry of its own (never prom-client's global one), so
 * several gateways in one process do not collide.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly tools = new ToolCallStats();
  private readonly requests = new CellCounter(['route', 'method', 'status']);
  private readonly tokensIssued: Counter<'grant_type'>;
  private readonly grantsRevoked: Counter;
  private readonly logins: Counter<'method'>;
  private readonly loginFailures: Counter<'method' | 'reason'>;
  private readonly restarts: Counter<'server'>;
  private readonly limited: Counter<'limit'>;
  private bridge?: BridgeStats;

  constructor(options: { processMetrics?: boolean } = {}) {
    // Registered in this order, which is the order of the exposition.
    this.registerComputedMetrics();
    const counter = <Label extends string>(name: string, help: string, labelNames: Label[] = []) =>
      new Counter<Label>({ name, help, labelNames, registers: [this.registry] });
    this.tokensIssued = counter(
      METRIC_NAMES.tokensIssued,
      'Tokens issued at /token, by grant type (authorization_code: new connections, refresh_token: refreshes).',
      ['grant_type'],
    );
    this.grantsRevoked = counter(METRIC_NAMES.grantsRevoked, 'Grants revoked (at /revoke, or because a used refresh token was replayed).');
    this.logins = counter(METRIC_NAMES.logins, 'Successful sign-ins, by method (password or the upstream provider id).', ['method']);
    this.loginFailures = counter(METRIC_NAMES.loginFailures, 'Failed or refused sign-ins, by method and reason.', ['method', 'reason']);
    this.restarts = counter(METRIC_NAMES.stdioRestarts, 'stdio MCP server processes started again after they stopped unexpectedly.', [
      'server',
    ]);
    this.limited = counter(
      METRIC_NAMES.rateLimited,
      'Requests answered 429 by a rate limit, by limit (login, register, token, authorize, mcp, initialize).',
      ['limit'],
    );
    this.registerBridgeGauges();
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The HTTP and tool-call series, kept by the gateway itself and read at scrape time. */
  private registerComputedMetrics(): void {
    this.registry.registerMetric(
      customMetric(
        METRIC_NAMES.httpRequests,
        'HTTP requests answered, by route (a fixed set of route patterns), method and status.',
        'counter',
        () => this.requests.values(),
      ),
    );
    this.registry.registerMetric(
      customMetric(
        METRIC_NAMES.toolCalls,
        'MCP tools/call requests to stdio servers, by server, tool and outcome (ok, error, timeout, cancelled, crashed).',
        'counter',
        () => this.toolCallValues(),
      ),
    );
    this.registry.registerMetric(
      customMetric(
        METRIC_NAMES.toolCallDuration,
        'Time from a tools/call reaching the gateway to its answer (or timeout, cancel, crash), in seconds.',
        'histogram',
        () => this.toolDurationValues(),
      ),
    );
  }

  /** Sessions and processes per server, read from the bridge when scraped. */
  private registerBridgeGauges(): void {
    const bridgeGauge = (name: string, help: string, pick: (row: { sessions: number; processes: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['server'],
        registers: [this.registry],
        collect: () => {
          const gauge = this.registry.getSingleMetric(name) as Gauge<'server'>;
          for (const row of this.bridge?.stats() ?? []) gauge.set({ server: row.server }, pick(row));
        },
      });
    bridgeGauge(METRIC_NAMES.sessions, 'Live MCP sessions on stdio servers, by server.', (row) => row.sessions);
    bridgeGauge(METRIC_NAMES.stdioProcesses, 'Running stdio MCP server processes, by server.', (row) => row.processes);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  watchBridge(bridge: BridgeStats): void {
    this.bridge = bridge;
  }

  httpRequest(route: string, method: string, status: number): void {
    this.requests.increment(route, method, status);
  }

  toolCall(server: string, tool: string, outcome: ToolCallOutcome, seconds: number): void {
    this.tools.record(server, tool, outcome, seconds);
  }

  /** A tools/list answer from a server: its tool names may be used as labels. */
  toolsListed(server: string, result: unknown): void {
    const tools = (result as { tools?: unknown } | undefined)?.tools;
    if (!Array.isArray(tools)) return;
    this.tools.learn(
      server,
      tools.flatMap((tool) => (typeof (tool as { name?: unknown })?.name === 'string' ? [(tool as { name: string }).name] : [])),
    );
  }

  tokenIssued(grantType: string): void {
    this.tokensIssued.inc({ grant_type: grantType });
  }

  grantRevoked(): void {
    this.grantsRevoked.inc();
  }

  loginSucceeded(method: string): void {
    this.logins.inc({ method });
  }

  loginFailed(method: string, reason: string): void {
    this.loginFailures.inc({ method, reason });
  }

  stdioRestarted(server: string): void {
    this.restarts.inc({ server });
  }

  rateLimited(limit: string): void {
    this.limited.inc({ limit });
  }

  private toolCallValues(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const [labels, series] of this.tools.entries()) out.push({ labels, value: series.count });
    return out;
  }

  private toolDurationValues(): MetricValue[] {
    const name = METRIC_NAMES.toolCallDuration;
    const out: MetricValue[] = [];
    for (const [labels, series] of this.tools.entries()) {
      let cumulative = 0;
      for (let i = 0; i < TOOL_CALL_BUCKETS.length; i++) {
        cumulative += series.buckets[i]!;
        out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: TOOL_CALL_BUCKETS[i]! }, value: cumulative });
      }
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: series.count });
      out.push({ metricName: `${name}_sum`, labels, value: series.sum });
      out.push({ metricName: `${name}_count`, labels, value: series.count });
    }
    return out;
  }
}
