import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { renderPage, SafeHtml } from '../src/web/views.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, pkcePair, register, registerClient, type RegisteredClient } from './helpers/oauth-client.js';

const REDIRECT = 'https://claude.ai/api/mcp/auth_callback';
const HOSTED = 'https://tools.example.org/oauth/client.json';
const valid = { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'bounded client' };

describe('page templates', () => {
  it('are filled in one pass: template markers in a value are shown, never expanded', () => {
    const name = '{{content}}{{{content}}}{{title}}'.repeat(300);
    const page = renderPage('login', 'Sign in', 'gw.example', {
      uid: 'u',
      csrf: 'c',
      clientName: name,
      serverName: new SafeHtml('<b>s</b>'),
    });
    assert.ok(page.length < 4 * name.length, `page is ${page.length} characters for a ${name.length}-character name`);
    assert.ok(page.includes(name), 'the name appears literally');
    assert.equal(page.match(/<main /g)?.length, 1, 'the layout appears once');
  });
});

describe('client metadata bounds', () => {
  let gw: TestGateway;
  let documentServer: Server;
  let served = '';

  before(async () => {
    documentServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(served);
    });
    await new Promise<void>((r) => documentServer.listen(0, '127.0.0.1', () => r()));
    const port = (documentServer.address() as { port: number }).port;
    // tools.example.org stands in for a public host serving a metadata document (see client-metadata-document.test.ts).
    const standIn: typeof fetch = async (input, init) => {
      const { dispatcher: _ignored, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
      return fetch(String(input).replace('https://tools.example.org', `http://127.0.0.1:${port}`), rest);
    };
    gw = await startTestGateway({}, { fetch: standIn });
  });
  after(async () => {
    await gw.close();
    documentServer.close();
  });

  async function interactionPage(client: RegisteredClient): Promise<{ status: number; page: string }> {
    const { challenge } = pkcePair();
    const step = await new HttpBrowser(gw.url).follow(authorizeUrl(gw.url, { client, challenge, method: 'S256' }));
    return { status: step.response?.status ?? 0, page: step.page ?? '' };
  }

  it('renders a client name made of template markers literally, in a small sign-in page', async () => {
    const name = '{{content}}'.repeat(18);
    const client = await registerClient(gw.url, { ...valid, client_name: name });
    const started = Date.now();
    const { status, page } = await interactionPage(client);
    assert.equal(status, 200);
    assert.ok(page.length < 16_000, `sign-in page is ${page.length} bytes`);
    assert.ok(page.includes(name));
    assert.ok(Date.now() - started < 2000);
  });

  const oversized: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a long client_name', { client_name: 'x'.repeat(201) }, /client_name/],
    ['a long client_uri', { client_uri: `https://example.com/${'a'.repeat(2000)}` }, /client_uri/],
    ['a long logo_uri', { logo_uri: `https://example.com/${'a'.repeat(2000)}` }, /logo_uri/],
    ['a long redirect URI', { redirect_uris: [`https://example.com/${'a'.repeat(2000)}`] }, /redirect_uris/],
    ['too many redirect URIs', { redirect_uris: Array.from({ length: 21 }, (_v, i) => `https://example.com/cb${i}`) }, /redirect_uris/],
    [
      'a huge document',
      { contacts: Array.from({ length: 250 }, (_v, i) => `someone-with-a-long-address-${i}@example.com`) },
      /metadata.*bytes/,
    ],
  ];
  for (const [what, metadata, field] of oversized) {
    it(`refuses ${what} with invalid_client_metadata naming the field`, async () => {
      const { status, body } = await register(gw.url, { ...valid, ...metadata });
      assert.equal(status, 400, JSON.stringify(body).slice(0, 300));
      assert.equal(body.error, 'invalid_client_metadata');
      assert.match(String(body.error_description), field);
    });
  }

  it('refuses a registration body over 16 KB, even of fields it would ignore', async () => {
    const { status, body } = await register(gw.url, { ...valid, padding: 'p'.repeat(20_000) });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_client_metadata');
    assert.match(String(body.error_description), /request body.*16384 bytes/);
  });

  it('accepts metadata at the limits', async () => {
    const { status, body } = await register(gw.url, {
      ...valid,
      client_name: 'n'.repeat(200),
      client_uri: `https://example.com/${'a'.repeat(1980)}`,
      redirect_uris: Array.from({ length: 20 }, (_v, i) => `https://example.com/cb${i}`),
    });
    assert.equal(status, 201, JSON.stringify(body).slice(0, 300));
  });

  it('applies the same bounds to a fetched metadata document', async () => {
    served = JSON.stringify({
      client_id: HOSTED,
      client_name: '{{content}}'.repeat(300),
      redirect_uris: ['https://tools.example.org/callback'],
      token_endpoint_auth_method: 'none',
    });
    const { status, page } = await interactionPage({
      client_id: HOSTED,
      redirect_uris: ['https://tools.example.org/callback'],
      token_endpoint_auth_method: 'none',
    });
    assert.equal(status, 400);
    assert.match(page, /client_name/);
    assert.ok(page.length < 16_000);
  });
});
