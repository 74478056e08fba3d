import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bridgeFixture, textOf } from './helpers/bridge-fixture.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { MODERN, ModernTestClient } from './helpers/modern-client.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

const SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

describe('the modern wire (MCP 2026-07-28) in front of a legacy stdio server', { timeout: 120_000 }, () => {
  let gw: TestGateway;
  let alice: ModernTestClient;
  let bob: ModernTestClient;
  let endpoint = '';

  before(async () => {
    gw = await startTestGateway({
      mcpServers: {
        tools: { ...bridgeFixture, isolation: 'shared' },
        mine: { ...bridgeFixture, isolation: 'per-user' },
        capped: { ...bridgeFixture, isolation: 'shared', limits: { sessionsPerPerson: 1 } },
      },
    });
    endpoint = `${gw.url}/mcp/tools`;
    alice = new ModernTestClient(endpoint, (await obtainTokens(gw.url, 'tools', ALICE)).access_token, { elicitation: {}, sampling: {} });
    bob = new ModernTestClient(endpoint, (await obtainTokens(gw.url, 'tools', BOB)).access_token, { elicitation: {} });
  });
  after(async () => {
    await gw?.close();
  });

  it("answers ChatGPT's server/discover probe for real, without opening a session", async () => {
    const reply = await fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
        'mcp-method': 'server/discover',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'openai-mcp-discover',
        method: 'server/discover',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN,
            'io.modelcontextprotocol/clientInfo': { name: 'openai-mcp', version: '1.0.0' },
            'io.modelcontextprotocol/clientCapabilities': {
              experimental: { 'openai/visibility': { enabled: true } },
              extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } },
            },
          },
        },
      }),
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('mcp-session-id'), null);
    const body = (await reply.json()) as { id: string; result: Record<string, any> };
    assert.equal(body.id, 'openai-mcp-discover');
    assert.equal(body.result.resultType, 'complete');
    assert.deepEqual(body.result.supportedVersions.slice(0, 2), [MODERN, '2025-11-25']);
    assert.ok(body.result.capabilities.tools, 'the server says it has tools');
    assert.equal(body.result._meta[SERVER_INFO].name, 'bridge-test');
    assert.equal(typeof body.result.ttlMs, 'number');
    assert.equal(body.result.cacheScope, 'public');
  });

  it('lists and calls tools statelessly: complete results, server identity, cache hints', async () => {
    const listed = await alice.request('tools/list');
    assert.equal(listed.status, 200);
    assert.equal(listed.result.resultType, 'complete');
    assert.ok(listed.result.tools.some((tool: { name: string }) => tool.name === 'echo'));
    assert.equal(listed.result.cacheScope, 'public');
    assert.equal(typeof listed.result.ttlMs, 'number');
    assert.equal(listed.result._meta[SERVER_INFO].name, 'bridge-test');
    const called = await alice.request('tools/call', { name: 'echo', arguments: { text: 'hi' } });
    assert.equal(called.status, 200);
    assert.equal(called.result.resultType, 'complete');
    assert.equal(textOf(called.result), 'hi');
    assert.equal(called.headers.get('mcp-session-id'), null);
  });

  it('gives per-user servers private cache hints', async () => {
    const mine = new ModernTestClient(`${gw.url}/mcp/mine`, (await obtainTokens(gw.url, 'mine', ALICE)).access_token);
    const listed = await mine.request('tools/list');
    assert.equal(listed.result.cacheScope, 'private');
  });

  it('refuses what a modern request gets wrong, with the modern error codes', async () => {
    const noMethodHeader = await alice.request('tools/list', {}, { headers: { 'mcp-method': undefined } });
    assert.equal(noMethodHeader.status, 400);
    assert.equal(noMethodHeader.error.code, -32020);
    const wrongName = await alice.request('tools/call', { name: 'echo', arguments: { text: 'x' } }, { headers: { 'mcp-name': 'whoami' } });
    assert.equal(wrongName.status, 400);
    assert.equal(wrongName.error.code, -32020);
    assert.match(wrongName.error.message, /whoami/);
    const encoded = await alice.request(
      'tools/call',
      { name: 'echo', arguments: { text: 'x' } },
      { headers: { 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` } },
    );
    assert.equal(encoded.status, 200, 'a base64-encoded Mcp-Name is decoded before it is compared');
    const unsupported = await alice.request(
      'tools/list',
      {},
      {
        headers: { 'mcp-protocol-version': '2099-01-01' },
        meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01', 'io.modelcontextprotocol/clientCapabilities': {} },
      },
    );
    assert.equal(unsupported.status, 400);
    assert.equal(unsupported.error.code, -32022);
    assert.deepEqual(unsupported.error.data.supported.slice(0, 2), [MODERN, '2025-11-25']);
    assert.equal(unsupported.error.data.requested, '2099-01-01');
    const noCapabilities = await alice.request('tools/list', {}, { meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } });
    assert.equal(noCapabilities.status, 400);
    assert.equal(noCapabilities.error.code, -32602);
    for (const removed of ['ping', 'logging/setLevel', 'resources/subscribe']) {
      const reply = await alice.request(removed, removed === 'logging/setLevel' ? { level: 'info' } : { uri: 'test://watched' });
      assert.equal(reply.status, 404, removed);
      assert.equal(reply.error.code, -32601, removed);
    }
  });

  it('lets a browser client send the modern headers: the preflight names each Mcp-Param-* it asks for', async () => {
    const preflight = await fetch(endpoint, {
      method: 'OPTIONS',
      headers: {
        origin: new URL(gw.url).origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, mcp-method, mcp-name, mcp-param-region, x-unrelated',
      },
    });
    assert.equal(preflight.status, 204);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
    for (const name of ['mcp-method', 'mcp-name', 'mcp-protocol-version', 'mcp-param-region']) assert.ok(allowed.includes(name), name);
    assert.ok(!allowed.includes('x-unrelated'));
  });

  it('streams progress on the request itself, and log messages only when the request asks for them', async () => {
    const progressed = await alice.request('tools/call', {
      name: 'progress',
      arguments: { steps: 3, label: 'p' },
      _meta: { progressToken: 'tok' },
    });
    const progress = progressed.messages.filter((m) => 'method' in m && m.method === 'notifications/progress');
    assert.equal(progress.length, 3);
    assert.equal((progress[0] as unknown as { params: { progressToken: unknown } }).params.progressToken, 'tok');
    assert.equal(textOf(progressed.result), 'done p');
    const quiet = await alice.request('tools/call', { name: 'log', arguments: { label: 'q' } });
    assert.ok(!quiet.messages.some((m) => 'method' in m && m.method === 'notifications/message'), 'no logLevel, no log messages');
    const verbose = await alice.request('tools/call', { name: 'log', arguments: { label: 'v' } }, { logLevel: 'debug' });
    assert.ok(verbose.messages.some((m) => 'method' in m && m.method === 'notifications/message'));
    const errorsOnly = await alice.request('tools/call', { name: 'log', arguments: { label: 'e' } }, { logLevel: 'error' });
    assert.ok(!errorsOnly.messages.some((m) => 'method' in m && m.method === 'notifications/message'), 'info is below error');
  });

  it('turns a legacy elicitation into input_required, and the retry into the final result', async () => {
    const params = { name: 'elicit', arguments: { question: 'Your name?' } };
    const first = await alice.request('tools/call', params);
    assert.equal(first.status, 200);
    assert.equal(first.result.resultType, 'input_required');
    const [key, asked] = Object.entries(first.result.inputRequests as Record<string, { method: string; params: any }>)[0]!;
    assert.equal(asked.method, 'elicitation/create');
    assert.equal(asked.params.message, 'Your name?');
    assert.equal(typeof first.result.requestState, 'string');
    const retry = await alice.request('tools/call', {
      ...params,
      inputResponses: { [key]: { action: 'accept', content: { name: 'Ada' } } },
      requestState: first.result.requestState,
    });
    assert.equal(retry.status, 200);
    assert.equal(retry.result.resultType, 'complete');
    assert.equal(textOf(retry.result), 'elicited: accept {"name":"Ada"}');
    const again = await alice.request('tools/call', {
      ...params,
      inputResponses: { [key]: { action: 'decline' } },
      requestState: first.result.requestState,
    });
    assert.equal(again.error?.code, -32602, 'a requestState is good for one retry');
  });

  it('binds requestState to its person and request, and refuses a tampered one', async () => {
    const params = { name: 'elicit', arguments: { question: 'Q?' } };
    const first = await alice.request('tools/call', params);
    const state: string = first.result.requestState;
    const key = Object.keys(first.result.inputRequests)[0]!;
    const answer = { [key]: { action: 'accept', content: { name: 'Mallory' } } };
    const stolen = await bob.request('tools/call', { ...params, inputResponses: answer, requestState: state });
    assert.equal(stolen.status, 400);
    assert.equal(stolen.error.code, -32602);
    const tampered = await alice.request('tools/call', { ...params, inputResponses: answer, requestState: `${state.slice(0, -2)}AA` });
    assert.equal(tampered.error.code, -32602);
    const otherTool = await alice.request('tools/call', {
      name: 'sample',
      arguments: { prompt: 'x' },
      inputResponses: answer,
      requestState: state,
    });
    assert.equal(otherTool.error.code, -32602);
    const honest = await alice.request('tools/call', { ...params, inputResponses: answer, requestState: state });
    assert.equal(textOf(honest.result), 'elicited: accept {"name":"Mallory"}', 'the refused attempts did not use it up');
  });

  it('answers -32021 when the server needs a capability the request did not declare', async () => {
    const reply = await bob.request('tools/call', { name: 'sample', arguments: { prompt: 'x' } });
    assert.equal(reply.status, 400);
    assert.equal(reply.error.code, -32021);
    assert.deepEqual(reply.error.data.requiredCapabilities, { sampling: {} });
  });

  it('delivers list changes on a subscriptions/listen stream, acknowledged and tagged', async () => {
    const listen = await alice.listen({ toolsListChanged: true, promptsListChanged: true }, 'sub-1');
    assert.equal(listen.status, 200);
    await waitFor(() => listen.messages.length >= 1, { message: 'the acknowledgement' });
    const ack = listen.messages[0] as { method: string; params: any };
    assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
    assert.equal(ack.params._meta[SUBSCRIPTION_ID], 'sub-1');
    assert.deepEqual(ack.params.notifications, { toolsListChanged: true }, 'the fixture has no prompts that change');
    await alice.request('tools/call', { name: 'announce', arguments: {} });
    await waitFor(() => listen.messages.length >= 2, { message: 'the list-changed notification' });
    const changed = listen.messages[1] as { method: string; params: any };
    assert.equal(changed.method, 'notifications/tools/list_changed');
    assert.equal(changed.params._meta[SUBSCRIPTION_ID], 'sub-1');
    listen.close();
  });

  it("caps one person's subscription streams on a server at its limits.sessionsPerPerson", async () => {
    const capped = new ModernTestClient(`${gw.url}/mcp/capped`, (await obtainTokens(gw.url, 'capped', ALICE)).access_token);
    const first = await capped.listen({ toolsListChanged: true });
    await waitFor(() => first.messages.length >= 1, { message: 'the first stream acknowledged' });
    const second = await capped.listen({ toolsListChanged: true });
    assert.equal((second.messages[0] as { error?: { code: number } }).error?.code, -31030);
    first.close();
    await waitFor(
      async () => {
        const again = await capped.listen({ toolsListChanged: true });
        again.close();
        return again.status === 200 && !(again.messages[0] as { error?: unknown } | undefined)?.error;
      },
      { message: 'room for a stream once the first closed' },
    );
  });

  it("completes ChatGPT's recorded opening: discover, then tools/list and calls carrying openai/* _meta", async () => {
    const chatgpt = new ModernTestClient(endpoint, alice.token, {
      experimental: { 'openai/visibility': { enabled: true } },
      extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } },
    });
    const discovered = await chatgpt.request('server/discover', {}, { id: 'openai-mcp-discover' });
    assert.equal(discovered.result.supportedVersions[0], MODERN);
    const listed = await chatgpt.request('tools/list', { _meta: { 'openai/userAgent': 'ChatGPT/1.0' } });
    assert.ok(listed.result.tools.length > 0);
    const openaiMeta = { 'openai/locale': 'en-US', 'openai/userAgent': 'ChatGPT/1.0', 'openai/subject': 'v1/abc' };
    const called = await chatgpt.request('tools/call', { name: 'echo', arguments: { text: 'from chatgpt' }, _meta: openaiMeta });
    assert.equal(textOf(called.result), 'from chatgpt');
  });

  it("completes ChatGPT's fallback path: initialize at 2025-11-25 and a session", async () => {
    const fallback = new McpTestClient(endpoint, alice.token, {
      extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } },
    });
    const initialized = await fallback.initialize();
    assert.equal(initialized.protocolVersion, '2025-11-25');
    const listed = await fallback.request('tools/list');
    assert.ok(listed.result.tools.length > 0);
    const called = await fallback.callTool('echo', { text: 'fallback' }, undefined, { 'openai/locale': 'en-US' });
    assert.equal(textOf(called.result), 'fallback');
  });

  it('keeps serving 2025 sessions on the same URL', async () => {
    const legacy = new McpTestClient(endpoint, alice.token);
    await legacy.initialize();
    assert.ok(legacy.sessionId, 'initialize still opens a session');
    const called = await legacy.callTool('echo', { text: 'old' });
    assert.equal(textOf(called.result), 'old');
    assert.equal(called.result.resultType, undefined, 'legacy results are not translated');
  });
});

describe('subscriptions/listen at shutdown', { timeout: 60_000 }, () => {
  it('ends each stream with its listen request’s result, so the client knows it closed cleanly', async () => {
    const gw = await startTestGateway({ mcpServers: { tools: { ...bridgeFixture, isolation: 'shared' } } });
    try {
      const client = new ModernTestClient(`${gw.url}/mcp/tools`, (await obtainTokens(gw.url, 'tools', ALICE)).access_token);
      const listen = await client.listen({ toolsListChanged: true }, 7);
      await waitFor(() => listen.messages.length >= 1, { message: 'the acknowledgement' });
      const closing = gw.close();
      await waitFor(() => listen.messages.length >= 2, { message: 'the closing result' });
      assert.deepEqual(listen.messages[1], {
        jsonrpc: '2.0',
        id: 7,
        result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID]: 7 } },
      });
      await closing;
    } finally {
      await gw.close().catch(() => undefined);
    }
  });
});
