import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandPersonTemplates, type PersonValues } from '../config/person-templates.js';
import type { McpServerConfig } from '../config/schema.js';
import { childEnvironment } from '../mcp/process/stdio-process.js';

export interface ProbeResult {
  ok: boolean;
  /** e.g. "12 tools", or why it failed. */
  detail: string;
  ms: number;
}

class ProbeTimeout extends Error {}

const expandEach = (values: Record<string, string>, person: PersonValues) =>
  Object.fromEntries(Object.entries(values).map(([name, value]) => [name, expandPersonTemplates(value, person)]));

/**
 * `person` stands in for whoever the server would serve: templates naming a person get a
 * throwaway folder and no secrets, so the probe never writes into a folder named "${user.dataDir}".
 */
function transportFor(server: McpServerConfig, stderrLines: string[], person: PersonValues): Transport {
  if (!('command' in server)) {
    return new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: expandEach(server.headers, person) } });
  }
  const transport = new StdioClientTransport({
    command: server.command,
    args: server.args.map((arg) => expandPersonTemplates(arg, person)),
    env: childEnvironment(expandEach(server.env, person)), // the environment the bridge gives it
    cwd: server.cwd === undefined ? undefined : expandPersonTemplates(server.cwd, person),
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderrLines.push(
      ...chunk
        .toString()
        .split('\n')
        .filter((line) => line.trim()),
    );
    stderrLines.splice(0, Math.max(0, stderrLines.length - 3));
  });
  return transport;
}

async function countTools(client: Client): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    count += page.tools.length;
    cursor = page.nextCursor;
  } while (cursor);
  return count;
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function failure(error: unknown, timeoutMs: number, stderrLines: string[]): string {
  const said = stderrLines.length ? `; it printed: ${stderrLines.join(' / ')}` : '';
  if (error instanceof ProbeTimeout) return `no answer within ${timeoutMs / 1000}s${said}`;
  const err = error as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return `cannot start it: ${err.message}`;
  // The SDK's words for a stdio server whose process ended before it answered.
  if (/Connection closed/.test(err.message ?? '')) return `it exited before answering${said}`;
  const cause = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  return `${err.message ?? String(error)}${cause ? ` (${cause})` : ''}${said}`;
}

/**
 * Starts a stdio server once (or connects to a url server), initializes it, lists its tools and
 * stops it. A url server that answers 401 is up and wants authorization: that counts as reachable.
 */
export async function probeServer(server: McpServerConfig, timeoutMs: number): Promise<ProbeResult> {
  const startedAt = Date.now();
  const stderrLines: string[] = [];
  const client = new Client({ name: 'mcp-oauth-gateway-check', version: '1.0.0' });
  const elapsed = () => Date.now() - startedAt;
  const dataDir = mkdtempSync(join(tmpdir(), 'gateway-probe-'));
  try {
    const tools = await withDeadline(
      (async () => {
        await client.connect(transportFor(server, stderrLines, { sub: 'check-probe', dataDir }), { timeout: timeoutMs });
        return countTools(client);
      })(),
      timeoutMs,
    );
    return { ok: true, detail: `${tools} tool${tools === 1 ? '' : 's'}`, ms: elapsed() };
  } catch (error) {
    if (error instanceof StreamableHTTPError && error.code === 401) {
      // With its own Authorization header configured, a 401 means that credential is refused.
      const sendsCredential = !('command' in server) && Object.keys(server.headers).some((name) => name.toLowerCase() === 'authorization');
      return sendsCredential
        ? { ok: false, detail: 'answers 401 to the configured Authorization header: check the credential in "headers"', ms: elapsed() }
        : { ok: true, detail: 'reachable, answers 401: it needs authorization, so its tools are not listed', ms: elapsed() };
    }
    return { ok: false, detail: failure(error, timeoutMs, stderrLines), ms: elapsed() };
  } finally {
    await client.close().catch(() => {
      /* already closed */
    });
    rmSync(dataDir, { recursive: true, force: true });
  }
}
