import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { GATEWAY_CLIENT_CAPABILITIES } from '../src/mcp/process/backend-client.js';
import { GATEWAY_CLIENT_INFO } from '../src/mcp/protocol.js';
import { packageRoot } from '../src/paths.js';
import { BOARD_HTML, BOARD_RESOURCE_META, BOARD_TOOL_META, BOARD_URI, MCP_APP_MIME_TYPE } from './fixtures/mcp-app-board.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { ModernTestClient } from './helpers/modern-client.js';
import { obtainTokens } from './helpers/tokens.js';

const fixturePath = resolve(packageRoot, 'dist/test/fixtures/mcp-app-server.js');
const fixture = { command: process.execPath, args: [fixturePath] };

/** What ChatGPT and Claude.ai declare in their initialize. */
const RENDERS_APPS = { extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } } };
const CHATGPT = { name: 'openai-mcp', version: '1.0.0' };
/** The request _meta ChatGPT sends with a tool call. */
const CHATGPT_CALL_META = {
  'openai/subject': 'v1/6b3f1c0a9e',
  'openai/userAgent': 'ChatGPT/1.2026.300 (Mac OS X 15.1; arm64)',
  'openai/locale': 'fr-FR',
  'openai/userLocation': { city: 'Lyon', country: 'FR', timezone: 'Europe/Paris' },
};

type Seen = { clientInfo: unknown; capabilities: unknown };
/** The gateway's declared set as the SDK server reads it (an empty elicitation capability means form mode). */
const DECLARED_AS_SEEN = { ...GATEWAY_CLIENT_CAPABILITIES, elicitation: { form: {} } };

/** The fixture over Streamable HTTP, standing in for a remote MCP App server. */
async function startRemoteApp(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [fixturePath, '--http', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise<string>((resolvePort, reject) => {
    let output = '';
    child.stderr!.on('data', (chunk) => {
      output += chunk;
      const listening = /listening on (\d+)/.exec(output);
      if (listening) resolvePort(listening[1]!);
    });
    child.once('exit', () => reject(new Error(`the MCP App fixture exited: ${output}`)));
  });
  return { url: `http://127.0.0.1:${port}/mcp`, child };
}

describe('MCP Apps through the gateway', () => {
  let gw: TestGateway;
  let remote: { url: string; child: ChildProcess };
  const tokens = new Map<string, string>();
  const clients: Client[] = [];

  before(async () => {
    remote = await startRemoteApp();
    gw = await startTestGateway({
      mcpServers: {
        shared: { ...fixture, isolation: 'shared' },
        peruser: { ...fixture, isolation: 'per-user' },
        persession: { ...fixture, isolation: 'per-session' },
        // A server whose operator declares a set without the extension: its processes offer no UI.
        plain: { ...fixture, isolation: 'shared', clientCapabilities: { sampling: {} } },
        remote: { url: remote.url },
      },
    });
    for (const user of [ALICE, BOB])
      for (const server of ['shared', 'peruser', 'persession', 'plain', 'remote'])
        tokens.set(`${user.email}/${server}`, (await obtainTokens(gw.url, server, user)).access_token);
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await gw.close();
    remote.child.kill();
  });

  /** An SDK client through the gateway with a real token, declaring `capabilities`. */
  const connect = async (server: string, capabilities: Record<string, unknown> = RENDERS_APPS, info = CHATGPT, user = ALICE) => {
    const client = new Client(info, { capabilities });
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/${server}`), {
      requestInit: { headers: { authorization: `Bearer ${tokens.get(`${user.email}/${server}`)}` } },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
  };
  const initializedAs = async (client: Client) =>
    (await client.callTool({ name: 'initialized_as', arguments: {} })).structuredContent as Seen;
  const boardTool = async (client: Client) => (await client.listTools()).tools.find((tool) => tool.name === 'show_board');

  for (const server of ['shared', 'peruser', 'persession', 'remote']) {
    it(`gives a client that declares the extension the tool's UI, its ui:// view and its metadata untouched (${server})`, async () => {
      const client = await connect(server);
      assert.deepEqual((await boardTool(client))?._meta, BOARD_TOOL_META);
      assert.deepEqual((await client.listResources()).resources, [
        { uri: BOARD_URI, name: 'board', mimeType: MCP_APP_MIME_TYPE, _meta: BOARD_RESOURCE_META },
      ]);
      const read = await client.readResource({ uri: BOARD_URI });
      assert.deepEqual(read.contents, [{ uri: BOARD_URI, mimeType: MCP_APP_MIME_TYPE, text: BOARD_HTML, _meta: BOARD_RESOURCE_META }]);

      const called = await client.callTool({ name: 'show_board', arguments: {}, _meta: CHATGPT_CALL_META });
      assert.deepEqual((called.structuredContent as { receivedMeta: unknown }).receivedMeta, CHATGPT_CALL_META, 'request _meta reached it');
      assert.deepEqual(called._meta, { 'openai/widgetSessionId': 'board-7', 'openai/locale': 'fr-FR', ui: { resourceUri: BOARD_URI } });
    });

    it(`keeps every other _meta key of a call beside the progress token it rewrites (${server})`, async () => {
      const client = await connect(server);
      const called = await client.callTool({ name: 'show_board', arguments: {}, _meta: CHATGPT_CALL_META }, undefined, {
        onprogress: () => {},
      });
      const { progressToken, ...rest } = (called.structuredContent as { receivedMeta: Record<string, unknown> }).receivedMeta;
      assert.notEqual(progressToken, undefined);
      assert.deepEqual(rest, CHATGPT_CALL_META);
    });
  }

  for (const server of ['shared', 'peruser', 'persession']) {
    it(`gives a modern (2026-07-28) client declaring the extension the same UI, and its call _meta untouched (${server})`, async () => {
      const client = new ModernTestClient(`${gw.url}/mcp/${server}`, tokens.get(`${ALICE.email}/${server}`)!, RENDERS_APPS);
      const listed = await client.request('tools/list');
      const board = (listed.result?.tools as Array<{ name: string; _meta?: unknown }>).find((tool) => tool.name === 'show_board');
      assert.deepEqual(board?._meta, BOARD_TOOL_META);
      const read = await client.request('resources/read', { uri: BOARD_URI });
      assert.deepEqual(read.result?.contents, [
        { uri: BOARD_URI, mimeType: MCP_APP_MIME_TYPE, text: BOARD_HTML, _meta: BOARD_RESOURCE_META },
      ]);
      const called = await client.request('tools/call', { name: 'show_board', arguments: {}, _meta: CHATGPT_CALL_META });
      const receivedMeta = called.result?.structuredContent?.receivedMeta as Record<string, unknown>;
      for (const [key, value] of Object.entries(CHATGPT_CALL_META)) assert.deepEqual(receivedMeta[key], value, key);
      assert.deepEqual(receivedMeta['io.modelcontextprotocol/clientCapabilities'], RENDERS_APPS, 'its own set, with the request');
      assert.equal(called.result?._meta?.['openai/widgetSessionId'], 'board-7');
      // Its requests each carry their own set, so even a per-session server's process is started with the declared one.
      const seen = await client.request('tools/call', { name: 'initialized_as', arguments: {} });
      assert.deepEqual(seen.result?.structuredContent, { clientInfo: GATEWAY_CLIENT_INFO, capabilities: DECLARED_AS_SEEN });
    });
  }

  it("initializes shared and per-user processes with the gateway's declared set, whoever opens them", async () => {
    // Bob's per-user process is new, and he opens it without declaring anything.
    const plainBob = await connect('peruser', {}, { name: 'plain', version: '1' }, BOB);
    for (const client of [plainBob, await connect('shared')]) {
      assert.deepEqual(await initializedAs(client), { clientInfo: GATEWAY_CLIENT_INFO, capabilities: DECLARED_AS_SEEN });
    }
    assert.deepEqual((await boardTool(plainBob))?._meta, BOARD_TOOL_META, 'the process renders for whoever it serves');
  });

  it('initializes a per-session process as its own client, so one that does not declare the extension gets no UI', async () => {
    const apps = await connect('persession');
    assert.deepEqual(await initializedAs(apps), { clientInfo: CHATGPT, capabilities: RENDERS_APPS });

    const plainInfo = { name: 'plain-client', version: '2.1.0' };
    const plain = await connect('persession', { roots: {} }, plainInfo);
    assert.deepEqual(await initializedAs(plain), { clientInfo: plainInfo, capabilities: { roots: {} } });
    assert.equal((await boardTool(plain))?._meta, undefined);
    assert.deepEqual((await plain.listResources()).resources, []);
    await assert.rejects(plain.readResource({ uri: BOARD_URI }), /no resource ui:\/\/board\/view\.html/);
    assert.deepEqual((await boardTool(apps))?._meta, BOARD_TOOL_META, 'the other session keeps its own');
  });

  it("uses the server's clientCapabilities when set: without the extension, no UI even for a client declaring it", async () => {
    const client = await connect('plain');
    assert.deepEqual(await initializedAs(client), { clientInfo: GATEWAY_CLIENT_INFO, capabilities: { sampling: {} } });
    assert.equal((await boardTool(client))?._meta, undefined);
    await assert.rejects(client.readResource({ uri: BOARD_URI }), /no resource/);
  });
});
