import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { unlessThrows, waitFor } from './wait.js';

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** Kills the server and removes its data. */
  stop(): Promise<void>;
  /** Kills the server (an outage); its data stays for a restart with the same port and dir. */
  kill(): Promise<void>;
}

/**
 * A private redis-server on a free port, never the machine's shared one on 6379. With
 * `persistent`, every write goes to an append-only file, as in production.
 */
export async function startRedis(options: { port?: number; dir?: string; persistent?: boolean } = {}): Promise<TestRedis> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'gw-redis-'));
  const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}/0`;
  await waitFor(
    async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        return await unlessThrows(async () => (await probe.connect(), await probe.ping()));
      } finally {
        probe.disconnect();
      }
    },
    { message: 'redis-server to start' },
  );
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  };
  return {
    url,
    port,
    dir,
    kill,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
