import { ConfigError, loadConfigFile } from '../config/load.js';
import { parseDuration } from '../config/duration.js';
import { stdioServerProblems } from '../config/server-checks.js';
import { summarise } from '../config/summary.js';
import { probeServer } from './probe.js';

export interface CheckOptions {
  /** Start each stdio server once and connect to each url server. */
  probe: boolean;
  /** How long one server may take to answer the probe, e.g. "30s". */
  timeout?: string;
}

const DEFAULT_PROBE_TIMEOUT = '30s';

/**
 * `check`: the file parses and validates, each stdio server's program and working directory are
 * there, and with --probe each server answers. Prints to stdout; returns the exit code.
 */
export async function checkCommand(file: string, options: CheckOptions): Promise<number> {
  const timeoutSeconds = parseDuration(options.timeout ?? DEFAULT_PROBE_TIMEOUT);
  if (timeoutSeconds === undefined) {
    process.stderr.write(`check: --timeout must be a duration like "30s" or "2m", not ${JSON.stringify(options.timeout)}\n`);
    return 1;
  }
  let config;
  try {
    config = loadConfigFile(file);
    const problems = stdioServerProblems(config);
    if (problems.length) throw new ConfigError(problems, file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.describe()}\n`);
    return 1;
  }
  process.stdout.write(`${file} is valid.\n${summarise(config)}\n`);
  if (!options.probe) return 0;

  const servers = Object.entries(config.mcpServers);
  const width = Math.max(...servers.map(([name]) => name.length));
  process.stdout.write(`Probing ${servers.length} server(s), each within ${timeoutSeconds}s:\n`);
  let failed = 0;
  for (const [name, server] of servers) {
    const result = await probeServer(server, timeoutSeconds * 1000);
    if (!result.ok) failed += 1;
    const seconds = (result.ms / 1000).toFixed(1);
    process.stdout.write(`  ${name.padEnd(width)}  ${result.ok ? 'ok    ' : 'FAILED'}  ${result.detail} (${seconds}s)\n`);
  }
  if (failed) process.stdout.write(`${failed} of ${servers.length} server(s) failed the probe.\n`);
  return failed ? 1 : 0;
}
