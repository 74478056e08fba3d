import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { authorizeUrl, exchangeCode, pkcePair, registerClient } from './helpers/oauth-client.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function openSession(gateway: GatewayProcess): Promise<{ mcp: McpTestClient; backendPid: number }> {
  const resource = `${gateway.url}/mcp/tools`;
  const client = await registerClient(gateway.url, { redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'none' });
  const { verifier, challenge } = pkcePair();
  const landed = await authorizeWithPassword(new HttpBrowser(gateway.url), authorizeUrl(gateway.url, { client, challenge, method: 'S256', resource }), ALICE);
  const tokens = await exchangeCode(gateway.url, client, landed.searchParams.get('code')!, verifier, { resource });
  const mcp = new McpTestClient(resource, tokens.body.access_token!);
  await mcp.initialize();
  const backendPid = Number((await mcp.request('tools/call', { name: 'whoami' })).result.content[0].text);
  return { mcp, backendPid };
}

function exited(gateway: GatewayProcess): Promise<number | null> {
  if (gateway.child.exitCode !== null) return Promise.resolve(gateway.child.exitCode);
  return new Promise((r) => gateway.child.once('exit', (code) => r(code)));
}

describe('SIGTERM', () => {
  it('stops accepting, lets the call in flight finish, stops the stdio servers and exits 0', async () => {
    const gateway = await spawnGateway(await testConfigJson({ mcpServers: { tools: fixture }, shutdownDeadline: '5s' }));
    try {
      const { mcp, backendPid } = await openSession(gateway);
      const call = mcp.request('tools/call', { name: 'slow_echo', arguments: { text: 'finished', ms: 1500 } });
      await new Promise((r) => setTimeout(r, 300));
      const stopping = exited(gateway);
      const signalledAt = Date.now();
      gateway.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      await assert.rejects(fetch(`${gateway.url}/healthz`), 'no new connections once stopping');
      const { result, error } = await call;
      assert.equal(error, undefined);
      assert.equal(result.content[0].text, 'finished');
      assert.equal(await stopping, 0);
      assert.ok(Date.now() - signalledAt < 5000);
      assert.equal(processAlive(backendPid), false, 'the stdio server was stopped');
      assert.match(gateway.output(), /"event":"stopping","signal":"SIGTERM"/);
    } finally {
      await gateway.kill();
    }
  });

  it('a call still running at the deadline gets an error answer, not a dropped connection', async () => {
    const gateway = await spawnGateway(await testConfigJson({ mcpServers: { tools: fixture }, shutdownDeadline: '1s' }));
    try {
      const { mcp, backendPid } = await openSession(gateway);
      const call = mcp.request('tools/call', { name: 'hang' });
      await new Promise((r) => setTimeout(r, 300));
      const stopping = exited(gateway);
      gateway.child.kill('SIGTERM');
      const { error, reply } = await call;
      assert.equal(reply.status, 200);
      assert.match(error?.message ?? '', /shutting down; retry/);
      assert.equal(await stopping, 0);
      assert.equal(processAlive(backendPid), false);
    } finally {
      await gateway.kill();
    }
  });
});
