import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { bridgeFixture, textOf } from './helpers/bridge-fixture.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

/**
 * Real clients nobody here wrote, both eras on one URL: the TypeScript SDK v2 client negotiating
 * 2026-07-28 (server/discover, stateless calls, MRTR, subscriptions/listen) and the v1 client
 * still getting a 2025 session, in front of the same legacy stdio server.
 */
describe('the TypeScript SDK clients of both eras on the same URL', { timeout: 120_000 }, () => {
  let gw: TestGateway;
  let token = '';
  let endpoint: URL;

  before(async () => {
    gw = await startTestGateway({ mcpServers: { tools: { ...bridgeFixture, isolation: 'shared' } } });
    endpoint = new URL(`${gw.url}/mcp/tools`);
    token = (await obtainTokens(gw.url, 'tools', ALICE)).access_token;
  });
  after(async () => {
    await gw?.close();
  });

  const requestInit = () => ({ headers: { authorization: `Bearer ${token}` } });

  it('v2 client: negotiates 2026-07-28, lists and calls tools, answers an elicitation through MRTR, hears list changes', async () => {
    const changes: unknown[] = [];
    const client = new ModernClient(
      { name: 'sdk-v2-test', version: '1.0.0' },
      {
        capabilities: { elicitation: {} },
        versionNegotiation: { mode: 'auto' },
        listChanged: { tools: { debounceMs: 0, onChanged: (_error, tools) => changes.push(tools) } },
      },
    );
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Ada' } }));
    await client.connect(new ModernTransport(endpoint, { requestInit: requestInit() }));
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.equal(client.getServerVersion()?.name, 'bridge-test');
      const { tools } = await client.listTools();
      assert.ok(tools.some((tool) => tool.name === 'echo'));
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'modern' } });
      assert.equal(textOf(echoed as { content?: Array<{ text?: string }> }), 'modern');
      const elicited = await client.callTool({ name: 'elicit', arguments: { question: 'Name?' } });
      assert.equal(textOf(elicited as { content?: Array<{ text?: string }> }), 'elicited: accept {"name":"Ada"}');
      await waitFor(() => client.autoOpenedSubscription !== undefined, { message: 'the auto-opened subscription' });
      await client.callTool({ name: 'announce', arguments: {} });
      await waitFor(() => changes.length > 0, { message: 'the tools list-changed notification on the listen stream' });
    } finally {
      await client.close();
    }
  });

  it('v1 client: still gets a 2025 session on the same URL', async () => {
    const client = new LegacyClient({ name: 'sdk-v1-test', version: '1.0.0' });
    const transport = new LegacyTransport(endpoint, { requestInit: requestInit() });
    await client.connect(transport);
    try {
      assert.ok(transport.sessionId, 'a session id');
      assert.equal(transport.protocolVersion, '2025-11-25');
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'legacy' } });
      assert.equal(textOf(echoed as { content?: Array<{ text?: string }> }), 'legacy');
    } finally {
      await client.close();
    }
  });
});
