import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { hashPassword } from '../../src/authz/password-hash.js';
import { parseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { startGateway, type RunningGateway } from '../../src/app/server.js';
import { createLogger } from '../../src/log/logger.js';
import { packageRoot } from '../../src/paths.js';
import { freePort } from './ports.js';
import { unlessThrows, waitFor } from './wait.js';

export const ALICE = { email: 'alice@example.com', password: 'correct horse battery staple' };
export const BOB = { email: 'bob@example.com', password: 'hunter2 but longer' };

let cachedHashes: Promise<Record<string, string>> | undefined;
function userHashes(): Promise<Record<string, string>> {
  cachedHashes ??= (async () => ({
    [ALICE.email]: await hashPassword(ALICE.password),
    [BOB.email]: await hashPassword(BOB.password),
  }))();
  return cachedHashes;
}

export const demoServerCommand = { command: process.execPath, args: [resolve(packageRoot, 'dist/src/demo/demo-mcp-server.js')] };

/** A complete config as a user would write it, on a free port, with a private data directory. */
export async function testConfigJson(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const port = await freePort();
  const hashes = await userHashes();
  return {
    publicUrl: `http://127.0.0.1:${port}`,
    listen: { host: '127.0.0.1', port },
    storage: `lmdb:${mkdtempSync(join(tmpdir(), 'gw-data-'))}`,
    login: {
      password: {
        users: [
          { email: ALICE.email, passwordHash: hashes[ALICE.email] },
          { email: BOB.email, passwordHash: hashes[BOB.email] },
        ],
      },
    },
    mcpServers: { demo: demoServerCommand },
    // Suites and the benchmark send far more than a person would, all from 127.0.0.1 as one user;
    // test/rate-limits.test.ts and test/audit-log.test.ts configure the limits they test.
    rateLimits: false,
    ...overrides,
  };
}

/** Collects log lines so tests can assert on (and against) what is logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    callback();
  }
}

export interface TestGateway {
  url: string;
  config: GatewayConfig;
  logs: LogCapture;
  running: RunningGateway;
  close(): Promise<void>;
}

export async function startTestGateway(
  overrides: Record<string, unknown> = {},
  options: { fetch?: typeof fetch } = {},
): Promise<TestGateway> {
  const config = parseConfig(await testConfigJson(overrides), 'test config');
  const logs = new LogCapture();
  const running = await startGateway(config, createLogger({ level: 'debug', destination: logs }), undefined, options);
  return { url: config.publicUrl, config, logs, running, close: () => running.close() };
}

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `mcp-oauth-gateway start --config FILE` as its own process, as a user would. `detached`
 * gives it its own process group, which a test can signal as a terminal signals its foreground job.
 */
export async function spawnGateway(
  configJson: Record<string, unknown>,
  configDir = mkdtempSync(join(tmpdir(), 'gw-conf-')),
  directUrl = configJson.publicUrl as string,
  options: { detached?: boolean } = {},
): Promise<GatewayProcess> {
  const file = join(configDir, 'gateway.json');
  writeFileSync(file, JSON.stringify(configJson, null, 2));
  const child = spawn(process.execPath, [resolve(packageRoot, 'dist/src/cli/main.js'), 'start', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  // Replicas share a publicUrl (their load balancer); each is checked at its own address.
  const url = directUrl;
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`gateway exited early:\n${output}`);
      return unlessThrows(async () => (await fetch(`${url}/healthz`)).ok);
    },
    { timeout: 15_000, message: () => `the gateway to start:\n${output}` },
  );
  return {
    url,
    child,
    output: () => output,
    kill: async (signal = 'SIGKILL') => {
      // Killed by a signal, a process has no exit code: its 'exit' has already been.
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}
