// Secrets reaching a person's tools (issue [10]): secretArguments hidden from the model, and a
// call missing a person's secret explained where the person is (a tool error with the account
// page link, or a URL-mode elicitation for a client that takes one).
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { textOf } from './helpers/bridge-fixture.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { ModernTestClient } from './helpers/modern-client.js';
import { obtainTokens } from './helpers/tokens.js';

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
