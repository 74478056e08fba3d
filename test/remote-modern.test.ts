import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { ModernTestClient } from './helpers/modern-client.js';
import { startRecordedUpstream, type RecordedUpstream } from './helpers/remote-upstream.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

const textsOf = (result: unknown) => ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('\n');

/**
 * A legacy remote server (server-everything over Streamable HTTP, 2025) in front of modern
 * (2026-07-28) clients: the gateway holds its own upstream session per person, with the entry's
 * configured headers, and the modern wire translates, including an elicitation through MRTR.
 */
describe('modern clients of a legacy remote server', { timeout: 120_000 }, () => {
  let gw: TestGateway;
  let upstream: RecordedUpstream;
  let alice = '';
  let bob = '';
  let endpoint: URL;

  before(async () => {
    upstream = await startRecordedUpstream();
    gw = await startTestGateway({
      mcpServers: { everything: { url: upstream.url, headers: { 'X-Upstream-Key': 'configured-secret' } } },
    });
    endpoint = new URL(`${gw.url}/mcp/everything`);
    alice = (await obtainTokens(gw.url, 'everything', ALICE)).access_token;
    bob = (await obtainTokens(gw.url, 'everything', BOB)).access_token;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('the SDK v2 client negotiates 2026-07-28, calls tools and answers an elicitation through MRTR', async () => {
    const client = new ModernClient(
      { name: 'sdk-v2-remote', version: '1.0.0' },
      { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } },
    );
    let asked: unknown;
    client.setRequestHandler('elicitation/create', async (request) => {
      asked = request.params;
      return { action: 'accept', content: { name: 'Ada Lovelace', check: true } };
    });
    await client.connect(new ModernTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${alice}` } } }));
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.match(client.getServerVersion()?.name ?? '', /everything/);
      const { tools } = await client.listTools();
      const names = tools.map((tool) => tool.name);
      assert.ok(names.includes('echo') && names.includes('trigger-elicitation-request'), names.join(', '));
      const echoed = await client.callTool({ name: 'echo', arguments: { message: 'modern over remote' } });
      assert.match(textsOf(echoed), /modern over remote/);
      const elicited = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
      assert.match(String((asked as { message?: string }).message), /Please provide inputs/);
      assert.match(textsOf(elicited), /User provided the requested information/);
      assert.match(textsOf(elicited), /Name: Ada Lovelace/);
    } finally {
      await client.close();
    }
    for (const { requestHeaders } of upstream.exchanges) {
      assert.equal(requestHeaders.authorization, undefined, 'no Authorization upstream');
      assert.ok(!JSON.stringify(requestHeaders).includes(alice), 'the token appears nowhere upstream');
      assert.equal(requestHeaders['x-upstream-key'], 'configured-secret');
    }
  });

  it('gives each person an upstream session of their own, reused across their requests', async () => {
    const sessionsSeen = () =>
      new Set(upstream.exchanges.map((e) => e.requestHeaders['mcp-session-id']).filter((id): id is string => typeof id === 'string'));
    const before = sessionsSeen();
    const forAlice = new ModernTestClient(endpoint.href, alice);
    const forBob = new ModernTestClient(endpoint.href, bob);
    for (const client of [forAlice, forBob, forAlice, forBob]) {
      const reply = await client.request('tools/call', { name: 'echo', arguments: { message: 'mine' } });
      assert.equal(reply.result?.resultType, 'complete');
      assert.match(JSON.stringify(reply.result), /mine/);
    }
    const added = [...sessionsSeen()].filter((id) => !before.has(id));
    assert.equal(added.length, 1, "Bob's upstream session is the only new one (Alice's from the first test is reused)");
  });

  it("subscriptions/listen hears the upstream's resources/updated from its GET stream", async () => {
    const client = new ModernTestClient(endpoint.href, alice);
    const uri = 'demo://resource/dynamic/text/1';
    const stream = await client.listen({ resourceSubscriptions: [uri] }, 'remote-listen');
    try {
      assert.equal(stream.status, 200);
      const acknowledged = await waitFor(
        () => stream.messages.find((m) => 'method' in m && m.method === 'notifications/subscriptions/acknowledged'),
        {
          message: 'the acknowledgement',
        },
      );
      assert.deepEqual((acknowledged as unknown as { params: { notifications: unknown } }).params.notifications, {
        resourceSubscriptions: [uri],
      });
      // The upstream sends resources/updated to its subscribers at once, then every 5 s, on its GET
      // stream: should the gateway's subscribe arrive after the toggle, the next round is heard.
      await client.request('tools/call', { name: 'toggle-subscriber-updates', arguments: {} });
      const updated = await waitFor(() => stream.messages.find((m) => 'method' in m && m.method === 'notifications/resources/updated'), {
        message: 'resources/updated on the listen stream',
        timeout: 20_000,
      });
      assert.equal((updated as unknown as { params: { uri: string; _meta: Record<string, unknown> } }).params.uri, uri);
      assert.equal(
        (updated as unknown as { params: { _meta: Record<string, unknown> } }).params._meta['io.modelcontextprotocol/subscriptionId'],
        'remote-listen',
      );
    } finally {
      stream.close();
    }
  });

  it('opens a new upstream session when the upstream forgot the old one (404), and the request goes through', async () => {
    const client = new ModernTestClient(endpoint.href, bob);
    assert.equal((await client.request('tools/call', { name: 'echo', arguments: { message: 'before' } })).result?.resultType, 'complete');
    const bobsSession = upstream.exchanges.find((e) => e.requestBody.includes('"before"'))!.requestHeaders['mcp-session-id'] as string;
    upstream.forget(bobsSession);
    const after = await client.request('tools/call', { name: 'echo', arguments: { message: 'after' } });
    assert.match(JSON.stringify(after.result), /after/);
    const tries = upstream.exchanges.filter((e) => e.requestBody.includes('"after"'));
    assert.deepEqual(
      tries.map((e) => [e.requestHeaders['mcp-session-id'] === bobsSession, e.status]),
      [
        [true, 404],
        [false, 200],
      ],
      'refused on the forgotten session, then sent once more on a new one',
    );
  });

  it('answers server/discover from the upstream initialize, and a 2025 client of the same URL is still proxied', async () => {
    const discovered = await new ModernTestClient(endpoint.href, alice).request('server/discover');
    assert.ok(discovered.result.supportedVersions.includes('2026-07-28'));
    assert.ok(discovered.result.capabilities.tools);
    const legacy = new McpTestClient(endpoint.href, alice);
    await legacy.initialize();
    assert.ok(legacy.sessionId, 'a proxied upstream session');
    const echo = await legacy.callTool('echo', { message: 'legacy still' });
    assert.match(JSON.stringify(echo.result), /legacy still/);
  });
});
