// npm run bench, second part: 100 connectors at once. Claude.ai gives discovery, registration and
// the token request 10 s each; ChatGPT and Claude.ai reach the gateway from a few shared addresses,
// so a busy team's connectors arrive together from one address. Measured against a gateway process
// started as a user starts it: 100 registrations (DCR) at once, then 100 authorization-code
// exchanges (PKCE; codes got through the real sign-in and consent) at once, each beside a baseline
// measured in the same run at the same concurrency (GET /.well-known/oauth-authorization-server).
// Then what the default rateLimits do to such a burst. Prints; asserts nothing.
import { ALICE, spawnGateway, testConfigJson } from '../test/helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from '../test/helpers/http-browser.js';
import { authorizeUrl, exchangeCode, pkcePair, register, type RegisteredClient } from '../test/helpers/oauth-client.js';
import { startRedis } from '../test/helpers/redis-server.js';

const CONNECTORS = Number(process.env.BENCH_CONNECTORS ?? 100);
const ROUNDS = Number(process.env.BENCH_CONNECTOR_ROUNDS ?? 3);
/** Sign-ins running at once while codes are collected (not measured): each browser signs in once. */
const BROWSERS = 5;
const CLIENT_BUDGET_MS = 10_000;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

interface Burst<T> {
  latencies: number[];
  values: T[];
}

/** `count` requests started together; each one's latency from the start of the burst's requests to its answer. */
async function burst<T>(count: number, work: (index: number) => Promise<T>): Promise<Burst<T>> {
  const answers = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const started = process.hrtime.bigint();
      const value = await work(index);
      return { value, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    }),
  );
  return { latencies: answers.map((a) => a.ms), values: answers.map((a) => a.value) };
}

const connectorMetadata = (index: number) => ({
  redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'],
  token_endpoint_auth_method: 'none',
  client_name: `connector ${index}`,
});

async function discovery(url: string): Promise<number> {
  const response = await fetch(`${url}/.well-known/oauth-authorization-server`);
  await response.arrayBuffer();
  return response.status;
}

/**
 * One authorization code per client, through sign-in and consent in a few browsers (not timed).
 * The browsers sign in one after the other: the password throttle checks one password at a time
 * per account.
 */
async function codesFor(url: string, clients: RegisteredClient[]): Promise<Array<{ code: string; verifier: string }>> {
  const codes = new Array<{ code: string; verifier: string }>(clients.length);
  const browsers = Array.from({ length: Math.min(BROWSERS, clients.length) }, () => new HttpBrowser(url));
  const codeFor = async (browser: HttpBrowser, i: number) => {
    const { verifier, challenge } = pkcePair();
    const landed = await authorizeWithPassword(browser, authorizeUrl(url, { client: clients[i]!, challenge, method: 'S256' }), ALICE);
    codes[i] = { code: landed.searchParams.get('code')!, verifier };
  };
  for (const [lane, browser] of browsers.entries()) await codeFor(browser, lane);
  await Promise.all(
    browsers.map(async (browser, lane) => {
      for (let i = lane + browsers.length; i < clients.length; i += browsers.length) await codeFor(browser, i);
    }),
  );
  return codes;
}

interface Samples {
  baseline: number[];
  register: number[];
  token: number[];
  failures: string[];
}

/** One round: the baseline burst, the registration burst, codes for those clients, the exchange burst. */
async function round(url: string, count: number, samples: Samples): Promise<void> {
  const baseline = await burst(count, () => discovery(url));
  const registered = await burst(count, (i) => register(url, connectorMetadata(i)));
  const clients = registered.values.filter((r) => r.status === 201).map((r) => r.body as unknown as RegisteredClient);
  if (clients.length < count) samples.failures.push(`${count - clients.length} registrations refused`);
  const codes = await codesFor(url, clients);
  const exchanged = await burst(clients.length, (i) => exchangeCode(url, clients[i]!, codes[i]!.code, codes[i]!.verifier));
  const refused = exchanged.values.filter((t) => t.status !== 200).length;
  if (refused) samples.failures.push(`${refused} token exchanges refused`);
  if (baseline.values.some((status) => status !== 200)) samples.failures.push('a discovery request failed');
  samples.baseline.push(...baseline.latencies);
  samples.register.push(...registered.latencies);
  samples.token.push(...exchanged.latencies);
}

function printSamples(storage: string, samples: Samples): void {
  const rows = [
    ['GET /.well-known/oauth-authorization-server (baseline)', samples.baseline],
    ['POST /register (DCR)', samples.register],
    ['POST /token (authorization code + PKCE)', samples.token],
  ] as const;
  const baseline = [...samples.baseline].sort((a, b) => a - b);
  console.log(`\n${CONNECTORS} connectors at once, ${ROUNDS} rounds, one gateway process on ${storage}:`);
  console.log('| request | p50 ms | p99 ms | p50 / baseline p50 | p99 / baseline p99 |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, values] of rows) {
    const sorted = [...values].sort((a, b) => a - b);
    const [p50, p99] = [percentile(sorted, 0.5), percentile(sorted, 0.99)];
    const ratios = `${(p50 / percentile(baseline, 0.5)).toFixed(2)}x | ${(p99 / percentile(baseline, 0.99)).toFixed(2)}x`;
    console.log(`| ${name} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${ratios} |`);
  }
  const worst = Math.max(...samples.register, ...samples.token);
  console.log(
    `slowest /register or /token: ${worst.toFixed(1)} ms, ${((worst / CLIENT_BUDGET_MS) * 100).toFixed(2)}% of the clients' 10 s budget`,
  );
  if (samples.failures.length) console.log(`FAILURES: ${samples.failures.join('; ')}`);
}

/** The gateway a user starts (its own process), limits off, on `storage`; a small warm-up round first. */
async function benchStorage(name: string, storage?: string): Promise<void> {
  const gw = await spawnGateway(await testConfigJson(storage ? { storage } : {}));
  try {
    await round(gw.url, 10, { baseline: [], register: [], token: [], failures: [] });
    const samples: Samples = { baseline: [], register: [], token: [], failures: [] };
    for (let i = 0; i < ROUNDS; i++) await round(gw.url, CONNECTORS, samples);
    printSamples(name, samples);
  } finally {
    await gw.kill('SIGTERM');
  }
}

/** What the default rateLimits.register does to connectors that all come from one address (a NAT, a client's egress). */
async function benchDefaultLimits(): Promise<void> {
  const config = await testConfigJson();
  delete config.rateLimits;
  const gw = await spawnGateway(config);
  try {
    const accepted = async () =>
      (await burst(CONNECTORS, (i) => register(gw.url, connectorMetadata(i)))).values.filter((r) => r.status === 201);
    const first = (await accepted()).length;
    const second = (await accepted()).length;
    console.log(
      `\nDefault rateLimits (register: 120 per hour per address), ${CONNECTORS} registrations at once from one address: ` +
        `${first} accepted; ${CONNECTORS} more within the hour: ${second} accepted, ${CONNECTORS - second} refused (429).`,
    );
  } finally {
    await gw.kill('SIGTERM');
  }
}

export async function benchConnectors(): Promise<void> {
  await benchStorage('LMDB');
  const redis = await startRedis();
  try {
    await benchStorage('Redis', redis.url);
  } finally {
    await redis.stop();
  }
  await benchDefaultLimits();
}
