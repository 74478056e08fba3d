import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { startRecordedUpstream, type RecordedUpstream } from './helpers/remote-upstream.js';
import { obtainTokens } from './helpers/tokens.js';

/** A POST sent with node:http, which (unlike fetch) lets a test send any header it likes. */
function rawPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON body of a refusal; anything else (an event stream that would never end) is cancelled. */
async function bodyOf(response: Response): Promise<unknown> {
  if (response.status === 404) return response.json();
  await response.body?.cancel();
  return { status: response.status };
}

const expectSessionNotFound = (status: number, body: unknown) => {
  assert.equal(status, 404);
  const error = (body as { error?: { code: number; message: string } }).error;
  assert.equal(error?.code, -32001, JSON.stringify(body));
  assert.match(error?.message ?? '', /Session not found/);
};

describe('remote upstream sessions belong to the person and client that opened them', () => {
  let gw: TestGateway;
  let upstream: RecordedUpstream;
  const tokens: Record<string, string> = {};

  before(async () => {
    upstream = await startRecordedUpstream();
    gw = await startTestGateway({
      mcpServers: { everything: { url: upstream.url }, capped: { url: upstream.url, limits: { sessionsPerPerson: 2 } } },
    });
    tokens.alice = (await obtainTokens(gw.url, 'everything', ALICE)).access_token;
    tokens.aliceOtherClient = (await obtainTokens(gw.url, 'everything', ALICE)).access_token;
    tokens.bob = (await obtainTokens(gw.url, 'everything', BOB)).access_token;
    tokens.aliceCapped = (await obtainTokens(gw.url, 'capped', ALICE)).access_token;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const endpoint = () => `${gw.url}/mcp/everything`;

  it("answers another person's (or another client's) use of a session with 404 on POST, GET and DELETE", async () => {
    const alice = new McpTestClient(endpoint(), tokens.alice!);
    await alice.initialize();
    assert.ok((await alice.request('tools/list')).result);
    const reachedUpstream = upstream.exchanges.length;

    for (const intruderToken of [tokens.bob!, tokens.aliceOtherClient!]) {
      const intruder = new McpTestClient(endpoint(), intruderToken);
      intruder.sessionId = alice.sessionId;
      const posted = await intruder.request('tools/list');
      expectSessionNotFound(posted.reply.status, posted.reply.messages[0]);
      const stream = await fetch(endpoint(), { method: 'GET', headers: intruder.headers({ accept: 'text/event-stream' }) });
      expectSessionNotFound(stream.status, await bodyOf(stream));
      const deleted = await fetch(endpoint(), { method: 'DELETE', headers: intruder.headers() });
      expectSessionNotFound(deleted.status, await bodyOf(deleted));
    }
    assert.equal(upstream.exchanges.length, reachedUpstream, "none of the intruder's requests reached the upstream");
    assert.ok((await alice.request('tools/list')).result, "Alice's session is untouched");
    assert.equal(await alice.close(), 200);
    assert.equal((await alice.request('tools/list')).reply.status, 404, 'a deleted session is gone');
  });

  it('keeps limits.sessionsPerPerson when initializes arrive at once, before the upstream answers any', async () => {
    const initialize = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'burst', version: '1' } },
    });
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        fetch(`${gw.url}/mcp/capped`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${tokens.aliceCapped}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: initialize,
        }).then(async (response) => ({ session: response.headers.get('mcp-session-id'), body: await response.text() })),
      ),
    );
    const opened = answers.filter((answer) => answer.session);
    assert.equal(opened.length, 2, 'two sessions, the cap');
    for (const refused of answers.filter((answer) => !answer.session)) assert.match(refused.body, /sessionsPerPerson/);
  });

  it("never shows the upstream's session id to the client", async () => {
    const before = upstream.exchanges.length;
    const alice = new McpTestClient(endpoint(), tokens.alice!);
    await alice.initialize();
    const upstreamId = upstream.exchanges
      .slice(before)
      .map((e) => e.responseHeaders?.['mcp-session-id'])
      .find(Boolean) as string | undefined;
    assert.ok(upstreamId, 'the upstream opened a session');
    assert.ok(alice.sessionId);
    assert.notEqual(alice.sessionId, upstreamId, 'the client holds a gateway-issued id');
    const call = upstream.exchanges.length;
    assert.ok((await alice.request('tools/list')).result);
    assert.equal(upstream.exchanges[call]!.requestHeaders['mcp-session-id'], upstreamId, 'the upstream sees its own id');

    const guesser = new McpTestClient(endpoint(), tokens.alice!);
    guesser.sessionId = upstreamId;
    expectSessionNotFound((await guesser.request('tools/list')).reply.status, (await guesser.request('tools/list')).reply.messages[0]);
  });

  it('passes nothing the client says about the network on to the upstream', async () => {
    const alice = new McpTestClient(endpoint(), tokens.alice!);
    await alice.initialize();
    const before = upstream.exchanges.length;
    const reply = await rawPost(
      endpoint(),
      {
        ...alice.headers(),
        'X-Forwarded-For': '203.0.113.66',
        'X-Forwarded-Host': 'evil.example',
        'X-Forwarded-Proto': 'http',
        Forwarded: 'for=203.0.113.66;host=evil.example',
        'X-Real-IP': '203.0.113.66',
        Connection: 'keep-alive, X-Hop-Secret',
        'X-Hop-Secret': 'only-for-the-next-hop',
        'Keep-Alive': 'timeout=99',
        TE: 'trailers',
        Trailer: 'X-Checksum',
        Upgrade: 'h2c',
        'Proxy-Connection': 'keep-alive',
        'Proxy-Authorization': 'Basic c2VjcmV0',
        'Transfer-Encoding': 'chunked',
        'X-Mcpgw-Forwarded': 'nobody',
      },
      JSON.stringify({ jsonrpc: '2.0', id: 'net', method: 'tools/list' }),
    );
    assert.equal(reply.status, 200, reply.body);
    assert.match(reply.body, /"tools"/);
    const seen = upstream.exchanges.slice(before);
    assert.equal(seen.length, 1);
    const headers = seen[0]!.requestHeaders;
    for (const name of [
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'forwarded',
      'x-real-ip',
      'x-hop-secret',
      'keep-alive',
      'te',
      'trailer',
      'upgrade',
      'proxy-connection',
      'proxy-authorization',
      'transfer-encoding',
      'x-mcpgw-forwarded',
    ]) {
      assert.equal(headers[name], undefined, `${name} must not reach the upstream (got ${JSON.stringify(headers[name])})`);
    }
    assert.doesNotMatch(String(headers.connection ?? ''), /x-hop-secret/i);
    assert.ok(!JSON.stringify(headers).includes('203.0.113.66'), "the client's claimed address appears nowhere upstream");
  });
});
