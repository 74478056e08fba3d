import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { isResponse } from '../jsonrpc.js';
import { discoverRequest, listsModernVersion } from '../protocol.js';
import { StdioProcess } from './stdio-process.js';

const PROBE_TIMEOUT_MS = 5_000;
const PROBE_ID = 'mcpgw-era-probe';

/**
 * Whether a stdio server speaks MCP 2026-07-28 itself: its answer to server/discover lists that
 * revision. Asked of a throwaway process (a legacy server may exit on a request before
 * initialize, or stay pinned to the era of its first message); no answer in time means legacy.
 */
export function probeStdioEra(serverName: string, spec: StdioServerConfig, logger: Logger, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const proc = new StdioProcess(serverName, spec, logger);
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const done = (modern: boolean, how: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void proc.stop(500);
      logger.info({ server: serverName, era: modern ? 'modern' : 'legacy', how }, 'MCP server era found with server/discover');
      resolve(modern);
    };
    const timer = setTimeout(() => done(false, `no answer within ${timeoutMs / 1000}s`), timeoutMs);
    proc.on('message', (message) => {
      if (isResponse(message) && message.id === PROBE_ID) done(!message.error && listsModernVersion(message.result), 'answered');
    });
    proc.on('exit', () => done(false, 'the probe process exited'));
    proc.start();
    if (!proc.send(discoverRequest(PROBE_ID))) done(false, 'the probe process took no input');
  });
}
