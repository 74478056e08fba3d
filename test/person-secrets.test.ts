// Secrets reaching a person's tools (issue [10]): secretArguments hidden from the model, and a
// call missing a person's secret explained where the person is (a tool error with the account
// page link, or a URL-mode elicitation for a client that takes one).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { textOf } from './helpers/bridge-fixture.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { ModernTestClient } from './helpers/modern-client.js';
import { decodeJwt } from './helpers/oauth-client.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

const fixture = resolve(packageRoot, 'dist/test/fixtures/personal-data-server.js');

/** A shared process whose search tool takes each caller's own API key. */
const keyed = {
  command: process.execPath,
  args: [fixture],
  isolation: 'shared',
  secrets: { API_KEY: { label: 'Search API key', required: true } },
  secretArguments: { search: { apiKey: '${secret.API_KEY}' } },
};

describe('a secret the person has not set', () => {
  let gateway: TestGateway;
  let token: string;
  before(async () => {
    gateway = await startTestGateway({ mcpServers: { keyed } });
    token = (await obtainTokens(gateway.url, 'keyed')).access_token;
  });
  after(async () => {
    await gateway?.close();
  });

  it('is never in the schema the client sees: the argument is gone from properties and required', async () => {
    const client = new McpTestClient(`${gateway.url}/mcp/keyed`, token);
    await client.initialize();
    const { result } = await client.request('tools/list');
    const search = result.tools.find((tool: { name: string }) => tool.name === 'search');
    assert.deepEqual(Object.keys(search.inputSchema.properties), ['query']);
    assert.deepEqual(search.inputSchema.required, ['query']);
    const others = result.tools.filter((tool: { name: string }) => tool.name !== 'search');
    assert.ok(others.length > 0 && others.every((tool: { inputSchema: object }) => tool.inputSchema));
  });

  it('makes a tool call a tool error giving the account page link, and another method a JSON-RPC error', async () => {
    const client = new McpTestClient(`${gateway.url}/mcp/keyed`, token);
    await client.initialize();
    const called = await client.callTool('search', { query: 'q', apiKey: 'the model made this up' });
    assert.equal(called.result.isError, true);
    const text = textOf(called.result)!;
    assert.match(text, /Search API key/);
    assert.ok(text.includes(`${gateway.url}/account#keyed`), text);
    const other = await client.request('prompts/get', { name: 'anything' });
    assert.equal(other.error.code, -31040);
    assert.equal(other.error.data.url, `${gateway.url}/account#keyed`);
    assert.ok(other.error.message.includes(`${gateway.url}/account#keyed`));
  });

  it('asks a client that takes URL-mode elicitation to open the account page; declined, the call explains', async () => {
    const client = new McpTestClient(`${gateway.url}/mcp/keyed`, token, { elicitation: { url: {} } });
    await client.initialize();
    const asked: Array<{ method: string; params?: any }> = [];
    const answered = await client.requestInteractive('tools/call', { name: 'search', arguments: { query: 'q' } }, (request) => {
      asked.push(request);
      return { action: 'decline' };
    });
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.method, 'elicitation/create');
    assert.equal(asked[0]!.params.mode, 'url');
    assert.equal(asked[0]!.params.url, `${gateway.url}/account#keyed`);
    assert.equal(typeof asked[0]!.params.elicitationId, 'string');
    assert.equal(answered.result.isError, true);
    assert.ok(textOf(answered.result)!.includes(`${gateway.url}/account#keyed`));
  });

  it('drops a call the client cancels while it waits for the secret: no answer follows', async () => {
    const client = new McpTestClient(`${gateway.url}/mcp/keyed`, token, { elicitation: { url: {} } });
    await client.initialize();
    const waiting = client.requestInteractive(
      'tools/call',
      { name: 'search', arguments: { query: 'q' } },
      async () => {
        await client.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'cancelled-call' } });
        return { action: 'accept' };
      },
      'cancelled-call',
    );
    await assert.rejects(waiting, /stream ended without a response to tools\/call/);
    assert.equal((await client.request('ping')).result !== undefined, true, 'the session goes on');
  });

  it('is handled alike on the 2026-07-28 wire: the schema without the argument, the call with the link', async () => {
    const client = new ModernTestClient(`${gateway.url}/mcp/keyed`, token);
    const listed = await client.request('tools/list');
    const search = listed.result.tools.find((tool: { name: string }) => tool.name === 'search');
    assert.deepEqual(Object.keys(search.inputSchema.properties), ['query']);
    const called = await client.request('tools/call', { name: 'search', arguments: { query: 'q' } });
    assert.equal(called.result.isError, true);
    assert.ok(textOf(called.result)!.includes(`${gateway.url}/account#keyed`));
  });

  it('does not ask a client that did not declare URL-mode elicitation', async () => {
    const client = new McpTestClient(`${gateway.url}/mcp/keyed`, token, { elicitation: {} });
    await client.initialize();
    const asked: unknown[] = [];
    const answered = await client.requestInteractive('tools/call', { name: 'search', arguments: { query: 'q' } }, (request) => {
      asked.push(request);
      return { action: 'accept' };
    });
    assert.deepEqual(asked, []);
    assert.equal(answered.result.isError, true);
  });
});

const hash = (value: string) => createHash('sha256').update(value).digest('hex');

/** A per-user process that gets each person's token in its environment. */
const tokened = {
  command: process.execPath,
  args: [fixture],
  env: { API_TOKEN: '${secret.API_TOKEN}' },
  secrets: { API_TOKEN: { label: 'API token', required: true } },
};

describe("each person's secrets, from the vault", () => {
  let gateway: TestGateway;
  const people = new Map<string, { sub: string; keyed: string; tokened: string }>();
  before(async () => {
    gateway = await startTestGateway({ mcpServers: { keyed, tokened }, secretsKey: randomBytes(32).toString('base64') });
    for (const person of [ALICE, BOB]) {
      const keyedToken = (await obtainTokens(gateway.url, 'keyed', person)).access_token;
      const tokenedToken = (await obtainTokens(gateway.url, 'tokened', person)).access_token;
      people.set(person.email, { sub: decodeJwt(keyedToken).payload.sub as string, keyed: keyedToken, tokened: tokenedToken });
    }
  });
  after(async () => {
    await gateway?.close();
  });
  const vault = () => gateway.running.gateway.secrets;
  const of = (person: typeof ALICE) => people.get(person.email)!;

  it("fills a shared process's tool argument with each caller's own secret, whatever the model sent", async () => {
    await vault().set(of(ALICE).sub, 'keyed', 'API_KEY', 'alice-search-key');
    await vault().set(of(BOB).sub, 'keyed', 'API_KEY', 'bob-search-key');
    for (const [person, key] of [
      [ALICE, 'alice-search-key'],
      [BOB, 'bob-search-key'],
    ] as const) {
      const client = new McpTestClient(`${gateway.url}/mcp/keyed`, of(person).keyed);
      await client.initialize();
      const called = await client.callTool('search', { query: 'q', apiKey: 'the model made this up' });
      assert.deepEqual(JSON.parse(textOf(called.result)!), { query: 'q', apiKeyHash: hash(key) }, person.email);
    }
    const modern = await new ModernTestClient(`${gateway.url}/mcp/keyed`, of(BOB).keyed).request('tools/call', {
      name: 'search',
      arguments: { query: 'm' },
    });
    assert.deepEqual(JSON.parse(textOf(modern.result)!), { query: 'm', apiKeyHash: hash('bob-search-key') });
  });

  it("starts a person's process with their secret, restarts it when the secret changes, explains when it is deleted", async () => {
    await vault().set(of(ALICE).sub, 'tokened', 'API_TOKEN', 'alice-token-1');
    const client = new McpTestClient(`${gateway.url}/mcp/tokened`, of(ALICE).tokened);
    await client.initialize();
    const startedWith = async () => JSON.parse(textOf((await client.callTool('started_with')).result)!);
    const first = await startedWith();
    assert.equal(first.tokenHash, hash('alice-token-1'));

    await vault().set(of(ALICE).sub, 'tokened', 'API_TOKEN', 'alice-token-2');
    const second = await waitFor(async () => {
      const now = await startedWith();
      return now.tokenHash === hash('alice-token-2') ? now : undefined;
    });
    assert.notEqual(second.pid, first.pid, 'a fresh process');

    await vault().delete(of(ALICE).sub, 'tokened', 'API_TOKEN');
    const deleted = await client.callTool('started_with');
    assert.equal(deleted.result.isError, true);
    assert.ok(textOf(deleted.result)!.includes(`${gateway.url}/account#tokened`));
  });

  it('lets a call in flight finish on the old process when the secret changes, and restarts after it', async () => {
    await vault().set(of(ALICE).sub, 'tokened', 'API_TOKEN', 'alice-token-3');
    const client = new McpTestClient(`${gateway.url}/mcp/tokened`, of(ALICE).tokened);
    await client.initialize();
    const before = await waitFor(async () => {
      const now = JSON.parse(textOf((await client.callTool('started_with')).result)!);
      return now.tokenHash === hash('alice-token-3') ? now : undefined;
    });
    const until = join(mkdtempSync(join(tmpdir(), 'gw-hold-')), 'release');
    const held = client.callTool('hold', { until });
    await waitFor(() => existsSync(`${until}.holding`));
    await vault().set(of(ALICE).sub, 'tokened', 'API_TOKEN', 'alice-token-4');
    // Still the old process while a call is in flight: another call meanwhile runs there too.
    const meanwhile = JSON.parse(textOf((await client.callTool('started_with')).result)!);
    assert.deepEqual([meanwhile.pid, meanwhile.tokenHash], [before.pid, hash('alice-token-3')]);
    writeFileSync(until, '');
    const finished = JSON.parse(textOf((await held).result)!);
    assert.deepEqual(finished, { pid: before.pid, tokenHash: hash('alice-token-3') }, 'the call in flight finished where it started');
    const after = await waitFor(async () => {
      const now = JSON.parse(textOf((await client.callTool('started_with')).result)!);
      return now.tokenHash === hash('alice-token-4') ? now : undefined;
    });
    assert.notEqual(after.pid, before.pid);
  });

  it('goes on with the call once a person asked through URL elicitation has saved the secret', async () => {
    const client = new McpTestClient(`${gateway.url}/mcp/tokened`, of(BOB).tokened, { elicitation: { url: {} } });
    await client.initialize();
    const answered = await client.requestInteractive('tools/call', { name: 'started_with', arguments: {} }, (request) => {
      assert.equal(request.params.url, `${gateway.url}/account#tokened`);
      // The person opens the page and saves the value, after saying yes.
      setImmediate(() => void vault().set(of(BOB).sub, 'tokened', 'API_TOKEN', 'bob-token'));
      return { action: 'accept' };
    });
    assert.ok(!answered.result.isError, JSON.stringify(answered.result));
    assert.equal(JSON.parse(textOf(answered.result)!).tokenHash, hash('bob-token'));
    const complete = answered.seen.find((message) => 'method' in message && message.method === 'notifications/elicitation/complete');
    assert.ok(complete, 'the client hears that the elicitation is complete');
  });
});
