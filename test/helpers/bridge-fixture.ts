import { resolve } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import type { McpTestClient } from './mcp-client.js';
import { waitFor } from './wait.js';

/** test/fixtures/bridge-test-server.ts as an `mcpServers` entry. */
export const bridgeFixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };

export const textOf = (result: { content?: Array<{ text?: string }> } | undefined) => result?.content?.[0]?.text;

/** One of the fixture's counters (`running_count`, `cancelled_count`), asked through session `c`. */
export const countOf = async (c: McpTestClient, tool: 'running_count' | 'cancelled_count') =>
  Number(textOf((await c.callTool(tool)).result));

/**
 * Waits until the fixture process behind `c` runs more slow_echo and hang calls than `before`:
 * a call sent just before has reached it (asked on the same session, alongside that call).
 */
export function untilRunningMoreThan(c: McpTestClient, before: number): Promise<true> {
  return waitFor(async () => (await countOf(c, 'running_count')) > before, { message: 'the call to reach the MCP server' });
}
