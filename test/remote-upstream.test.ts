import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { freePort } from './helpers/ports.js';
import { obtainTokens } from './helpers/tokens.js';

/** server-everything, the MCP reference server, in its Streamable HTTP mode. */
async function startEverything(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [resolve(packageRoot, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolvePromise, reject) => {
    let output = '';
    child.stderr!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('listening')) resolvePromise();
    });
    child.once('exit', () => reject(new Error(`server-everything exited: ${output}`)));
  });
  return child;
}

describe('remote MCP upstream (server-everything over Streamable HTTP)', () => {
  let gw: TestGateway;
  let everything: ChildProcess;
  let recorder: Server;
  const seenHeaders: IncomingHttpHeaders[] = [];
  let token = '';

  before(async () => {
    const everythingPort = await freePort();
    everything = await startEverything(everythingPort);
    // A transparent hop in front of server-everything that records what reaches the upstream.
    recorder = createServer((req, res) => {
      seenHeaders.push({ ...req.headers });
      const upstream = request({ host: '127.0.0.1', port: everythingPort, path: req.url, method: req.method, headers: { ...req.headers, host: `127.0.0.1:${everythingPort}` } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', () => r()));
    const recorderPort = (recorder.address() as { port: number }).port;
    gw = await startTestGateway({
      mcpServers: {
        everything: { url: `http://127.0.0.1:${recorderPort}/mcp`, headers: { 'X-Upstream-Key': 'configured-secret' } },
        dead: { url: 'http://127.0.0.1:1/mcp' },
      },
    });
    token = (await obtainTokens(gw.url, 'everything', ALICE)).access_token;
  });
  after(async () => {
    await gw.close();
    recorder.close();
    everything.kill();
  });

  it('lists and calls tools, with progress streamed, and never forwards the client\'s token', async () => {
    const client = new McpTestClient(`${gw.url}/mcp/everything`, token);
    const init = await client.initialize();
    assert.ok(client.sessionId, 'the upstream session id comes through');
    assert.ok((init.serverInfo as { name: string }).name);
    const tools = await client.request('tools/list');
    const names = (tools.result.tools as Array<{ name: string }>).map((t) => t.name);
    assert.ok(names.includes('echo'));
    const echo = await client.callTool('echo', { message: 'through the proxy' });
    assert.match(JSON.stringify(echo.result), /through the proxy/);
    const long = await client.callTool('trigger-long-running-operation', { duration: 1, steps: 3 }, 'lr', { progressToken: 'p-1' });
    const progress = long.related.filter((m) => 'method' in m && m.method === 'notifications/progress');
    assert.equal(progress.length, 3);
    assert.equal(long.reply.contentType.includes('text/event-stream'), true);
    assert.ok(long.result);

    assert.ok(seenHeaders.length >= 4);
    for (const headers of seenHeaders) {
      assert.equal(headers.authorization, undefined, 'no Authorization upstream');
      assert.equal(headers.cookie, undefined);
      assert.ok(!JSON.stringify(headers).includes(token), 'the token appears nowhere upstream');
      assert.equal(headers['x-upstream-key'], 'configured-secret');
    }
  });

  it('still requires a valid token in front of the upstream', async () => {
    const client = new McpTestClient(`${gw.url}/mcp/everything`, 'forged.token.value');
    const reply = await client.post({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.equal(reply.status, 401);
  });

  it('turns an unreachable upstream into a clear 502', async () => {
    const deadToken = (await obtainTokens(gw.url, 'dead', ALICE)).access_token;
    const client = new McpTestClient(`${gw.url}/mcp/dead`, deadToken);
    const reply = await client.post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal(reply.status, 502);
    assert.match(JSON.stringify(reply.messages), /remote MCP server \\"dead\\" is unreachable/);
  });
});
