import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Logger } from '../../log/logger.js';
import type { JsonRpcMessage } from '../jsonrpc.js';
import { isJsonRpcMessage } from '../jsonrpc.js';

export interface StdioSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

const STDERR_TAIL_LINES = 20;
/** Past this many unwritten bytes the backend is not keeping up; callers get an error instead of a queue. */
const STDIN_HIGH_WATER = 8 * 1024 * 1024;
/** A single line longer than this on stdout is not MCP; it is dropped rather than buffered forever. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface StdioProcessEvents {
  message: [JsonRpcMessage];
  exit: [{ code: number | null; signal: NodeJS.Signals | null; error?: Error }];
}

/** Only what the config gives, on top of a minimal environment: the gateway's own secrets stay out. */
export function childEnvironment(env: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: process.env.LANG ?? 'C.UTF-8', ...env };
}

/**
 * One child process speaking newline-delimited JSON-RPC on stdin/stdout. Owns the write path
 * (no listener per write) and keeps the tail of stderr for error messages.
 */
export class StdioProcess extends EventEmitter<StdioProcessEvents> {
  private child?: ChildProcessWithoutNullStreams;
  private stdoutBuffer = '';
  private readonly stderrLines: string[] = [];
  private exited = false;
  readonly startedAt = Date.now();

  constructor(
    private readonly serverName: string,
    private readonly spec: StdioSpec,
    private readonly logger: Logger,
  ) {
    super();
  }

  start(): void {
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: childEnvironment(this.spec.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: Ctrl-C or a closed terminal signals the gateway, which stops it
      // after the calls in flight; the signal must not reach it directly.
      detached: true,
    });
    this.child = child;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => this.onStderr(chunk));
    child.stdin.on('error', () => {
      /* EPIPE after exit: reported through 'exit' */
    });
    child.once('error', (error) => this.finish(null, null, error));
    child.once('exit', (code, signal) => this.finish(code, signal));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return !!this.child && !this.exited;
  }

  private finish(code: number | null, signal: NodeJS.Signals | null, error?: Error): void {
    if (this.exited) return;
    this.exited = true;
    this.emit('exit', { code, signal, error });
  }

  /** Writes one message; false when the process is gone or not reading (bounded buffer). */
  send(message: JsonRpcMessage): boolean {
    const stdin = this.child?.stdin;
    if (!stdin || this.exited || !stdin.writable) return false;
    if (stdin.writableLength > STDIN_HIGH_WATER) return false;
    stdin.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  private onStdout(chunk: string): void {
    const text = this.stdoutBuffer + chunk;
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      const line = text.slice(start, newline).trim();
      if (line) this.onLine(line);
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    this.stdoutBuffer = start === 0 ? text : text.slice(start);
    if (this.stdoutBuffer.length > MAX_LINE_BYTES) {
      this.logger.warn({ server: this.serverName }, 'backend wrote an oversized line on stdout; dropped');
      this.stdoutBuffer = '';
    }
  }

  private onLine(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.logger.warn({ server: this.serverName, line: line.slice(0, 200) }, 'backend wrote a non-JSON line on stdout');
      return;
    }
    if (!isJsonRpcMessage(parsed)) {
      this.logger.warn({ server: this.serverName, line: line.slice(0, 200) }, 'backend wrote something that is not JSON-RPC');
      return;
    }
    this.emit('message', parsed);
  }

  private onStderr(chunk: string): void {
    for (const line of chunk.split('\n')) {
      const text = line.trimEnd();
      if (!text) continue;
      this.stderrLines.push(text);
      if (this.stderrLines.length > STDERR_TAIL_LINES) this.stderrLines.shift();
      this.logger.info({ server: this.serverName, pid: this.child?.pid, stderr: text.slice(0, 2000) }, 'backend stderr');
    }
  }

  stderrTail(): string {
    return this.stderrLines.join('\n');
  }

  /** Asks the process to exit (stdin closed, then SIGTERM, then SIGKILL). */
  stop(graceMs = 2000): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => resolve();
      this.once('exit', done);
      child.stdin.end();
      const term = setTimeout(() => child.kill('SIGTERM'), Math.min(500, graceMs));
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      term.unref();
      kill.unref();
      this.once('exit', () => {
        clearTimeout(term);
        clearTimeout(kill);
      });
    });
  }
}
