import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createSafeFetch } from '../src/net/safe-fetch.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, type RegisteredClient } from './helpers/oauth-client.js';

const CLAUDE_CIMD = 'https://claude.ai/oauth/mcp-oauth-client-metadata';
const CHATGPT_CIMD = 'https://chatgpt.com/oauth/client.json';
const HOSTED = 'https://tools.example.org/oauth/client.json';

/** A client id URL used without registration, as a CIMD client does. */
const cimdClient = (clientId: string, redirect: string): RegisteredClient => ({
  client_id: clientId,
  redirect_uris: [redirect],
  token_endpoint_auth_method: 'none',
});

describe('Client ID Metadata Documents', () => {
  let gw: TestGateway;
  let documentServer: Server;
  let documentPort = 0;
  let fetches = 0;
  let served: { status: number; body: string; headers?: Record<string, string> } = { status: 200, body: '' };

  before(async () => {
    documentServer = createServer((_req, res) => {
      fetches++;
      res.writeHead(served.status, { 'content-type': 'application/json', ...served.headers });
      res.end(served.body);
    });
    await new Promise<void>((r) => documentServer.listen(0, '127.0.0.1', () => r()));
    documentPort = (documentServer.address() as { port: number }).port;
    // Stands in for DNS + TLS: tools.example.org reaches the local document server as if it were
    // a public host. Every other URL goes through the gateway's own SSRF-safe fetch (the default
    // path), so a loopback client_id is refused by it, before any connection.
    const safeFetch = createSafeFetch();
    const fetchThroughStandIn: typeof fetch = async (input, init) => {
      const url = String(input);
      if (url.startsWith('https://tools.example.org/')) {
        const { dispatcher: _ignored, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
        return fetch(url.replace('https://tools.example.org', `http://127.0.0.1:${documentPort}`), rest);
      }
      return safeFetch(url, init);
    };
    gw = await startTestGateway({}, { fetch: fetchThroughStandIn });
  });
  after(async () => {
    await gw.close();
    documentServer.close();
  });

  async function completeFlow(client: RegisteredClient) {
    const { verifier, challenge } = pkcePair();
    const landed = await authorizeWithPassword(new HttpBrowser(gw.url), authorizeUrl(gw.url, { client, challenge, method: 'S256' }), ALICE);
    const code = landed.searchParams.get('code');
    assert.ok(code, landed.toString());
    return exchangeCode(gw.url, client, code, verifier);
  }

  async function refusal(
    client: RegisteredClient,
    redirectUri = client.redirect_uris[0]!,
  ): Promise<{ status: number; page: string; location: string | null }> {
    const { challenge } = pkcePair();
    const response = await fetch(authorizeUrl(gw.url, { client, redirectUri, challenge, method: 'S256' }), { redirect: 'manual' });
    return { status: response.status, page: await response.text(), location: response.headers.get('location') };
  }

  it('serves the pinned Claude.ai document without fetching it, through to a token', async () => {
    const tokens = await completeFlow(cimdClient(CLAUDE_CIMD, 'https://claude.ai/api/mcp/auth_callback'));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(decodeJwt(tokens.body.access_token!).payload.client_id, CLAUDE_CIMD);
  });

  it("does not pin ChatGPT's document (it declares private_key_jwt): it is fetched like any other", async () => {
    fetches = 0;
    const result = await refusal(cimdClient(CHATGPT_CIMD, 'https://chatgpt.com/connector_platform_oauth_redirect'));
    // This test's fetch reaches no chatgpt.com: the document cannot be loaded (private-key-jwt.test.ts plays it).
    assert.equal(result.status, 400);
    assert.equal(fetches, 0);
  });

  it('bounds the redirect URI by the document', async () => {
    const result = await refusal(cimdClient(CLAUDE_CIMD, 'https://evil.example/cb'));
    assert.equal(result.status, 400);
    assert.equal(result.location, null);
  });

  it('fetches a hosted document once, honours its cache lifetime, and completes the flow', async () => {
    served = {
      status: 200,
      headers: { 'cache-control': 'max-age=300' },
      body: JSON.stringify({
        client_id: HOSTED,
        client_name: 'Hosted tool',
        redirect_uris: ['https://tools.example.org/callback'],
        token_endpoint_auth_method: 'none',
      }),
    };
    fetches = 0;
    const tokens = await completeFlow(cimdClient(HOSTED, 'https://tools.example.org/callback'));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    await completeFlow(cimdClient(HOSTED, 'https://tools.example.org/callback'));
    assert.equal(fetches, 1, 'cached per Cache-Control');
  });

  it('refuses a document whose client_id differs from its URL', async () => {
    const id = 'https://tools.example.org/oauth/other.json';
    served = {
      status: 200,
      body: JSON.stringify({
        client_id: 'https://tools.example.org/oauth/impostor.json',
        redirect_uris: ['https://tools.example.org/callback'],
        token_endpoint_auth_method: 'none',
      }),
    };
    const result = await refusal(cimdClient(id, 'https://tools.example.org/callback'));
    assert.equal(result.status, 400);
    assert.match(result.page, /client_id/);
  });

  it('refuses redirects, errors, oversized and hostile documents', async () => {
    const cases: Array<[string, typeof served]> = [
      ['redirect', { status: 302, headers: { location: 'https://tools.example.org/elsewhere' }, body: '' }],
      ['server error', { status: 500, body: 'oops' }],
      ['oversized', { status: 200, body: JSON.stringify({ client_id: 'x', pad: 'a'.repeat(200_000) }) }],
      ['javascript redirect URI', { status: 200, body: '' }],
    ];
    for (const [index, [what, response]] of cases.entries()) {
      const id = `https://tools.example.org/oauth/case-${index}.json`;
      served =
        what === 'javascript redirect URI'
          ? {
              status: 200,
              body: JSON.stringify({ client_id: id, redirect_uris: ['javascript:alert(1)'], token_endpoint_auth_method: 'none' }),
            }
          : response;
      const result = await refusal(cimdClient(id, 'https://tools.example.org/callback'));
      assert.equal(result.status, 400, `${what}: ${result.status}`);
      assert.equal(result.location, null, what);
    }
  });

  it('never fetches from loopback or private addresses (SSRF)', async () => {
    fetches = 0;
    for (const host of [
      `127.0.0.1:${documentPort}`,
      `localhost:${documentPort}`,
      `[::ffff:127.0.0.1]:${documentPort}`,
      '10.0.0.1',
      '169.254.169.254',
      '[::1]',
    ]) {
      const id = `https://${host}/oauth/client.json`;
      served = {
        status: 200,
        body: JSON.stringify({ client_id: id, redirect_uris: ['https://tools.example.org/callback'], token_endpoint_auth_method: 'none' }),
      };
      const result = await refusal(cimdClient(id, 'https://tools.example.org/callback'));
      assert.equal(result.status, 400, `${host}: ${result.status}`);
    }
    assert.equal(fetches, 0);
  });
});
