import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CONFORMANCE_PACKAGE = '@modelcontextprotocol/conformance@0.2.0-alpha.12';

export interface ConformanceRun {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first stdout line that matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exit: Promise<number>;
}

/** Runs the official MCP conformance suite (it needs Node 22, which npx fetches from npm). */
export function runConformance(args: string[]): ConformanceRun {
  const command = ['conformance', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('npx', ['-y', '-p', 'node@22', '-p', CONFORMANCE_PACKAGE, '-c', command], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  return {
    child,
    output: () => output,
    exit,
    waitForLine: (pattern, timeoutMs = 240_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const line = output.split('\n').find((l) => pattern.test(l.trim()));
          if (line) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(line.trim());
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`conformance never printed ${pattern}:\n${output}`));
        }, timeoutMs);
        listeners.add(check);
        void exit.then(() =>
          setTimeout(() => {
            if (listeners.has(check)) {
              listeners.delete(check);
              clearTimeout(timer);
              reject(new Error(`conformance exited before printing ${pattern}:\n${output}`));
            }
          }, 50),
        );
        check();
      }),
  };
}

export interface ScenarioVerdict {
  scenario: string;
  passed: boolean;
}

/**
 * The scenarios of a `--requirements` run's summary that count toward conformance: every
 * `✓|✗ name:` line, minus those the run lists under "Not scored for <revision>".
 */
export function scoredVerdicts(output: string): ScenarioVerdict[] {
  const summary = output.slice(output.indexOf('=== SUMMARY ==='));
  const notScored = new Set(
    [...summary.matchAll(/^ {2}[✓✗] (\S+) \((?:extension|pending|added-after-release|not scored)\)$/gmu)].map((m) => m[1]),
  );
  return [...summary.matchAll(/^([✓✗]) (\S+): \d+ passed/gmu)]
    .filter((m) => !notScored.has(m[2]!))
    .map((m) => ({ scenario: m[2]!, passed: m[1] === '✓' }));
}

/**
 * The FAILURE checks recorded under `--output-dir` for the given scenarios, one line each
 * (`scenario: check id: message`), so a failing run says why without a rerun.
 */
export function failedChecks(outputDir: string, scenarios: ReadonlySet<string>): string[] {
  const lines: string[] = [];
  for (const dir of readdirSync(outputDir)) {
    const scenario = dir.replace(/^server-/u, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/u, '');
    if (!scenarios.has(scenario)) continue;
    const checks = JSON.parse(readFileSync(join(outputDir, dir, 'checks.json'), 'utf8')) as Array<{
      id: string;
      status: string;
      errorMessage?: string;
    }>;
    for (const check of checks.filter((c) => c.status === 'FAILURE')) {
      lines.push(`${scenario}: ${check.id}: ${(check.errorMessage ?? '').slice(0, 400)}`);
    }
  }
  return lines.sort();
}
