import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { authorizeUrl, exchangeCode, pkcePair, registerClient } from './helpers/oauth-client.js';

// Closing a terminal sends SIGHUP, and Ctrl-C sends SIGINT, to every process of its foreground job:
// the gateway and, unless they run apart, the stdio servers it started. Both must stop gracefully.
const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function signedInClient(gateway: GatewayProcess): Promise<McpTestClient> {
  const resource = `${gateway.url}/mcp/tools`;
  const client = await registerClient(gateway.url, { redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'none' });
  const { verifier, challenge } = pkcePair();
  const landed = await authorizeWithPassword(new HttpBrowser(gateway.url), authorizeUrl(gateway.url, { client, challenge, method: 'S256', resource }), ALICE);
  const tokens = await exchangeCode(gateway.url, client, landed.searchParams.get('code')!, verifier, { resource });
  const mcp = new McpTestClient(resource, tokens.body.access_token!);
  await mcp.initialize();
  return mcp;
}

function exitOf(gateway: GatewayProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = gateway;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

describe('terminal signals', () => {
  for (const signal of ['SIGHUP', 'SIGINT'] as const) {
    it(`${signal} to the whole job lets the call in flight finish, then stops the stdio servers and exits 0`, async () => {
      const gateway = await spawnGateway(await testConfigJson({ mcpServers: { tools: fixture }, shutdownDeadline: '5s' }), undefined, undefined, { detached: true });
      try {
        const mcp = await signedInClient(gateway);
        const backendPid = Number((await mcp.request('tools/call', { name: 'whoami' })).result.content[0].text);
        const call = mcp.request('tools/call', { name: 'slow_echo', arguments: { text: 'finished', ms: 1500 } });
        await new Promise((r) => setTimeout(r, 300));
        const stopping = exitOf(gateway);
        process.kill(-gateway.child.pid!, signal); // the process group, as the terminal does
        const { result, error } = await call;
        assert.equal(error, undefined, `the call failed: ${JSON.stringify(error)}`);
        assert.equal(result.content[0].text, 'finished');
        assert.deepEqual(await stopping, { code: 0, signal: null });
        assert.equal(processAlive(backendPid), false, 'the stdio server was stopped');
        assert.match(gateway.output(), new RegExp(`"event":"stopping","signal":"${signal}"`));
      } finally {
        await gateway.kill();
      }
    });
  }
});
