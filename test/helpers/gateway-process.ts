import { textOf, untilRunningMoreThan } from './bridge-fixture.js';
import type { GatewayProcess } from './gateway.js';
import { ALICE } from './gateway.js';
import { authorizeWithPassword, HttpBrowser } from './http-browser.js';
import { McpTestClient } from './mcp-client.js';
import { authorizeUrl, exchangeCode, pkcePair, registerClient } from './oauth-client.js';

/** Whether process `pid` still runs (signal 0 only checks). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An initialized MCP session on `server` of a spawned gateway, for Alice through a public client. */
export async function signedInClient(gateway: GatewayProcess, server = 'tools'): Promise<McpTestClient> {
  const resource = `${gateway.url}/mcp/${server}`;
  const client = await registerClient(gateway.url, {
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    token_endpoint_auth_method: 'none',
  });
  const { verifier, challenge } = pkcePair();
  const authorize = authorizeUrl(gateway.url, { client, challenge, method: 'S256', resource });
  const landed = await authorizeWithPassword(new HttpBrowser(gateway.url), authorize, ALICE);
  const tokens = await exchangeCode(gateway.url, client, landed.searchParams.get('code')!, verifier, { resource });
  const mcp = new McpTestClient(resource, tokens.body.access_token!);
  await mcp.initialize();
  return mcp;
}

/** How the gateway process ended (at once when it already has). */
export function exitOf(gateway: GatewayProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = gateway;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * A signed-in session on a spawned gateway serving the bridge fixture as `tools`, with one call of
 * `tool` running in the stdio server: the call, that server's pid, and how the gateway will exit.
 */
export async function callInFlight(gateway: GatewayProcess, tool: string, args: Record<string, unknown> = {}) {
  const mcp = await signedInClient(gateway);
  const backendPid = Number(textOf((await mcp.callTool('whoami')).result));
  const call = mcp.callTool(tool, args);
  await untilRunningMoreThan(mcp, 0);
  return { call, backendPid, stopping: exitOf(gateway) };
}
