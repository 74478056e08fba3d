import { spawn, type ChildProcess } from 'node:child_process';

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
