import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { obtainTokens } from './helpers/tokens.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };

interface SseEvent {
  id?: string;
  message?: { id?: string | number; method?: string; result?: { content: Array<{ text: string }> } };
}

/** Reads an SSE response one event at a time, ids included; undefined once the stream has ended. */
function eventsOf(response: Response): () => Promise<SseEvent | undefined> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return async () => {
    for (;;) {
      const cut = buffer.indexOf('\n\n');
      if (cut !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id === undefined && data === undefined) continue; // a keepalive comment
        return { id, message: data === undefined ? undefined : JSON.parse(data) };
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
  };
}

describe('resumable SSE (Last-Event-ID) on 2025 sessions', () => {
  let gateway: GatewayProcess;
  let token: string;
  before(async () => {
    gateway = await spawnGateway(await testConfigJson({ mcpServers: { tools: { ...fixture, isolation: 'shared' } } }));
    token = (await obtainTokens(gateway.url, 'tools')).access_token;
  });
  after(async () => {
    await gateway?.kill();
  });

  const listen = (mcp: McpTestClient, lastEventId?: string, signal?: AbortSignal) =>
    fetch(mcp.endpoint, {
      headers: mcp.headers({ accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }),
      signal,
    });

  it('a GET stream reconnecting with Last-Event-ID gets the notifications it missed, then the live ones', async () => {
    const mcp = new McpTestClient(`${gateway.url}/mcp/tools`, token);
    await mcp.initialize();
    const first = new AbortController();
    const stream = await listen(mcp, undefined, first.signal);
    assert.equal(stream.status, 200);
    const next = eventsOf(stream);
    await mcp.callTool('announce');
    const seen = (await next())!;
    assert.equal(seen.message?.method, 'notifications/tools/list_changed');
    assert.ok(seen.id, 'every event has an id');
    first.abort();

    // Sent while the client is away: kept in the session's replay window.
    await mcp.callTool('announce');
    await mcp.callTool('announce');
    const reconnected = new AbortController();
    const resumed = await listen(mcp, seen.id, reconnected.signal);
    assert.equal(resumed.status, 200);
    const replay = eventsOf(resumed);
    const missed = [(await replay())!, (await replay())!];
    assert.deepEqual(
      missed.map((event) => event.message?.method),
      ['notifications/tools/list_changed', 'notifications/tools/list_changed'],
    );
    const ids = [seen.id, ...missed.map((event) => event.id)];
    assert.equal(new Set(ids).size, 3, `ids unique within the session: ${ids.join(', ')}`);
    await mcp.callTool('announce');
    assert.equal((await replay())!.message?.method, 'notifications/tools/list_changed', 'and the stream goes on');
    reconnected.abort();
  });

  it("a POST stream that broke mid-call is resumed by a GET with its last event id: the call's answer arrives there", async () => {
    const mcp = new McpTestClient(`${gateway.url}/mcp/tools`, token, { elicitation: {} });
    await mcp.initialize();
    const dropped = new AbortController();
    const post = await fetch(mcp.endpoint, {
      method: 'POST',
      headers: mcp.headers(),
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'elicit', arguments: { question: 'name?' } } }),
      signal: dropped.signal,
    });
    assert.match(post.headers.get('content-type') ?? '', /^text\/event-stream/);
    const asked = (await eventsOf(post)())!;
    assert.equal(asked.message?.method, 'elicitation/create');
    assert.ok(asked.id);
    dropped.abort();

    const resumed = await listen(mcp, asked.id);
    assert.equal(resumed.status, 200);
    const answer = await mcp.post({ jsonrpc: '2.0', id: asked.message!.id, result: { action: 'accept', content: { name: 'Ada' } } });
    assert.equal(answer.status, 202);
    const next = eventsOf(resumed);
    const result = (await next())!;
    assert.equal(result.message?.id, 7);
    assert.equal(result.message?.result?.content[0]!.text, 'elicited: accept {"name":"Ada"}');
    assert.equal(await next(), undefined, 'the resumed stream ends with its last answer');

    // The same id again, after the stream ended: what followed it is replayed, then the end.
    const again = eventsOf(await listen(mcp, asked.id));
    assert.equal((await again())!.message?.id, 7);
    assert.equal(await again(), undefined);
  });
});
