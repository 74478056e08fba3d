import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { startRecordedUpstream, type RecordedUpstream } from './helpers/remote-upstream.js';
import { obtainTokens } from './helpers/tokens.js';
import { sleep } from './helpers/wait.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };
const textOf = (result: { content?: Array<{ text?: string }> } | undefined) => result?.content?.[0]?.text;
const TOKEN_TTL_S = 3;

/** Opens a session's GET stream; `ended` resolves with the time the gateway ended it (or never). */
async function openStream(c: McpTestClient): Promise<{ status: number; ended: Promise<number>; close(): void }> {
  const controller = new AbortController();
  const response = await fetch(c.endpoint, {
    method: 'GET',
    headers: c.headers({ accept: 'text/event-stream' }),
    signal: controller.signal,
  });
  const ended = (async () => {
    try {
      for await (const _chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        /* keep reading */
      }
    } catch {
      /* aborted */
    }
    return Date.now();
  })();
  return { status: response.status, ended, close: () => controller.abort() };
}

/** Resolves with the stream's end time, or undefined when it is still open after `ms`. */
const endedWithin = (stream: { ended: Promise<number> }, ms: number) => Promise.race([stream.ended, sleep(ms).then(() => undefined)]);

const expiryOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;

describe('an open GET stream ends when its token expires', () => {
  let gw: TestGateway;
  let upstream: RecordedUpstream;

  before(async () => {
    upstream = await startRecordedUpstream();
    gw = await startTestGateway({
      tokens: { accessTokenTtl: `${TOKEN_TTL_S}s` },
      mcpServers: { stdio: { ...fixture, isolation: 'per-user' }, remote: { url: upstream.url } },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const server of ['stdio', 'remote']) {
    it(`${server}: the stream ends at the token's expiry; a call already in flight on a POST stream finishes`, async () => {
      const token = (await obtainTokens(gw.url, server, ALICE)).access_token;
      const c = new McpTestClient(`${gw.url}/mcp/${server}`, token);
      await c.initialize();
      const stream = await openStream(c);
      assert.equal(stream.status, 200);
      const expiresAt = expiryOf(token);
      const call =
        server === 'stdio'
          ? c.callTool('progress', { steps: Math.ceil((expiresAt - Date.now() + 1500) / 5), label: 'long' }, 'long', { progressToken: 'p' })
          : c.callTool('trigger-long-running-operation', { duration: Math.ceil((expiresAt - Date.now()) / 1000) + 1, steps: 4 }, 'long', {
              progressToken: 'p',
            });
      const endedAt = await endedWithin(stream, expiresAt - Date.now() + 2000);
      stream.close();
      assert.ok(endedAt !== undefined, 'the stream was still open 2s after the token expired');
      assert.ok(endedAt >= expiresAt - 100, `ended ${expiresAt - endedAt} ms before the token expired`);
      const finished = await call;
      assert.ok(finished.result, `the call in flight finished: ${JSON.stringify(finished.error)}`);
      if (server === 'stdio') assert.equal(textOf(finished.result), 'done long');
    });
  }

  it('refuses to open a stream with a token that has already expired', async () => {
    const token = (await obtainTokens(gw.url, 'stdio', ALICE)).access_token;
    const c = new McpTestClient(`${gw.url}/mcp/stdio`, token);
    await c.initialize();
    // The token's lifetime must pass on the clock.
    await sleep(expiryOf(token) - Date.now() + 200);
    const stream = await openStream(c);
    stream.close();
    assert.equal(stream.status, 401);
  });
});

describe('a session ends at its maximum lifetime, busy or not', () => {
  let gw: TestGateway;
  let upstream: RecordedUpstream;

  before(async () => {
    upstream = await startRecordedUpstream();
    gw = await startTestGateway({
      limits: { sessionLifetime: '3s' },
      mcpServers: { stdio: { ...fixture, isolation: 'per-user', callTimeout: '30s' }, remote: { url: upstream.url } },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const server of ['stdio', 'remote']) {
    it(`${server}: its stream ends, a call in flight gets an error, then the session is gone (404)`, async () => {
      const c = new McpTestClient(`${gw.url}/mcp/${server}`, (await obtainTokens(gw.url, server, ALICE)).access_token);
      const opened = Date.now();
      await c.initialize();
      const stream = await openStream(c);
      const call = server === 'stdio' ? c.callTool('hang') : undefined;
      const endedAt = await endedWithin(stream, 5000);
      stream.close();
      assert.ok(endedAt !== undefined, 'the stream outlived the session lifetime');
      assert.ok(endedAt - opened >= 2900, `ended after ${endedAt - opened} ms`);
      if (call) assert.match((await call).error?.message ?? '', /maximum lifetime/);
      assert.equal((await c.request('tools/list')).reply.status, 404);
    });
  }
});
