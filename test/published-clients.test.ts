import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, refresh, type RegisteredClient } from './helpers/oauth-client.js';
import { freePort } from './helpers/ports.js';
import { LastGoodDocuments } from '../src/authz/last-good-documents.js';
import { LmdbStore } from '../src/storage/lmdb-store.js';
import { CHATGPT_CONNECTOR_ID, startChatGptStandIn } from './helpers/chatgpt-stand-in.js';
import { CLAUDE_AI_ID, CLAUDE_CODE_ID, startPublishedClients, VSCODE_ID, type PublishedClients } from './helpers/published-clients.js';

/** A client presenting its metadata document URL, with the one redirect URI it uses this time. */
const documentClient = (clientId: string, redirectUri: string): RegisteredClient => ({
  client_id: clientId,
  redirect_uris: [redirectUri],
  token_endpoint_auth_method: 'none',
});

async function signIn(gw: TestGateway, client: RegisteredClient): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkcePair();
  const landed = await authorizeWithPassword(new HttpBrowser(gw.url), authorizeUrl(gw.url, { client, challenge, method: 'S256' }), ALICE);
  const code = landed.searchParams.get('code');
  assert.ok(code, landed.toString());
  assert.equal(`${landed.origin}${landed.pathname}`, client.redirect_uris[0], 'back at the redirect URI it asked for');
  return { code, verifier };
}

/** Sign-in, code exchange and one refresh, as the client does it; returns the access token's claims. */
async function playClient(gw: TestGateway, client: RegisteredClient): Promise<Record<string, unknown>> {
  const { code, verifier } = await signIn(gw, client);
  const tokens = await exchangeCode(gw.url, client, code, verifier);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  const refreshed = await refresh(gw.url, client, tokens.body.refresh_token!);
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  return decodeJwt(tokens.body.access_token!).payload;
}

/** The first hop of an authorization request: where the gateway sends the browser, or its error page. */
async function authorizeOnce(gw: TestGateway, client: RegisteredClient, redirectUri: string) {
  const { challenge } = pkcePair();
  const response = await fetch(authorizeUrl(gw.url, { client, redirectUri, challenge, method: 'S256' }), { redirect: 'manual' });
  return { status: response.status, location: response.headers.get('location'), page: await response.text() };
}

describe('the published clients, each from its own metadata document', () => {
  let gw: TestGateway;
  let hosts: PublishedClients;
  before(async () => {
    hosts = await startPublishedClients();
    gw = await startTestGateway({}, { fetch: hosts.fetch });
  });
  after(async () => {
    await gw.close();
    hosts.close();
  });

  it('Claude.ai: its pinned document, never fetched, through to tokens and a refresh', async () => {
    const claims = await playClient(gw, documentClient(CLAUDE_AI_ID, 'https://claude.ai/api/mcp/auth_callback'));
    assert.equal(claims.client_id, CLAUDE_AI_ID);
    assert.equal(hosts.fetches(CLAUDE_AI_ID), 0, 'pinned: claude.ai is not asked');
  });

  it('Claude Code: its port-less loopback URIs accept the port its callback server got, on both loopback names', async () => {
    for (const host of ['localhost', '127.0.0.1']) {
      const port = await freePort();
      const claims = await playClient(gw, documentClient(CLAUDE_CODE_ID, `http://${host}:${port}/callback`));
      assert.equal(claims.client_id, CLAUDE_CODE_ID);
    }
    assert.ok(hosts.fetches(CLAUDE_CODE_ID) >= 1, 'fetched from (the stand-in) claude.ai');
  });

  it('Claude Code: any port, but not another path, another loopback name or another host', async () => {
    const port = await freePort();
    const client = documentClient(CLAUDE_CODE_ID, `http://localhost:${port}/callback`);
    for (const redirectUri of [
      `http://localhost:${port}/elsewhere`,
      `http://[::1]:${port}/callback`,
      `https://localhost:${port}/callback`,
    ]) {
      const refused = await authorizeOnce(gw, client, redirectUri);
      assert.equal(refused.status, 400, `${redirectUri}: ${refused.status}`);
      assert.equal(refused.location, null, redirectUri);
    }
  });

  it('VS Code: its loopback redirect on any port, and https://vscode.dev/redirect', async () => {
    const port = await freePort();
    const claims = await playClient(gw, documentClient(VSCODE_ID, `http://127.0.0.1:${port}/`));
    assert.equal(claims.client_id, VSCODE_ID);
    const toSignIn = await authorizeOnce(gw, documentClient(VSCODE_ID, 'https://vscode.dev/redirect'), 'https://vscode.dev/redirect');
    assert.equal(toSignIn.status, 303, toSignIn.page.slice(0, 300));
    assert.match(toSignIn.location ?? '', /\/interaction\//);
  });
});

describe('the last good copy of a fetched metadata document', () => {
  let hosts: PublishedClients;
  const storage = () => `lmdb:${mkdtempSync(join(tmpdir(), 'gw-last-good-'))}`;
  before(async () => {
    hosts = await startPublishedClients();
  });
  after(() => hosts.close());

  /** Runs `use` against a gateway on `store`, then stops that gateway (a restart keeps only the store). */
  async function withGateway(store: string, use: (gw: TestGateway) => Promise<void>): Promise<TestGateway> {
    const gw = await startTestGateway({ storage: store }, { fetch: hosts.fetch });
    try {
      await use(gw);
    } finally {
      await gw.close();
    }
    return gw;
  }

  for (const outage of ['html', 'invalid'] as const) {
    it(`is used, after a restart, when the host serves ${outage === 'html' ? 'an HTML page' : 'an invalid document'}`, async () => {
      const store = storage();
      const client = () => documentClient(CLAUDE_CODE_ID, `http://127.0.0.1:${33000 + Math.floor(Math.random() * 1000)}/callback`);
      hosts.serve(CLAUDE_CODE_ID, 'document');
      await withGateway(store, async (gw) => {
        await playClient(gw, client());
      });
      hosts.serve(CLAUDE_CODE_ID, outage);
      const fetchesBefore = hosts.fetches(CLAUDE_CODE_ID);
      const restarted = await withGateway(store, async (gw) => {
        const claims = await playClient(gw, client());
        assert.equal(claims.client_id, CLAUDE_CODE_ID);
      });
      assert.ok(hosts.fetches(CLAUDE_CODE_ID) > fetchesBefore, 'the host was asked again and failed');
      const warnings = restarted.logs.lines.filter((line) => line.includes('"event":"cimd.last_good"'));
      assert.ok(warnings.length >= 1, 'a warning says the last good copy was used');
      assert.match(warnings[0]!, /"level":(40|"warn")/);
      assert.match(warnings[0]!, new RegExp(CLAUDE_CODE_ID.replace(/[./]/g, '\\$&')));
    });
  }

  it("keeps ChatGPT's document as declared (private_key_jwt), not as one request without an assertion saw it", async () => {
    const chatgpt = await startChatGptStandIn(hosts.fetch);
    const store = storage();
    try {
      const gw = await startTestGateway({ storage: store }, { fetch: chatgpt.fetch });
      try {
        // The connector document also allows none: this request, without an assertion, is taken as none.
        const redirectUri = 'https://chatgpt.com/connector/oauth/cb-7f3e';
        const toSignIn = await authorizeOnce(gw, documentClient(CHATGPT_CONNECTOR_ID, redirectUri), redirectUri);
        assert.equal(toSignIn.status, 303, toSignIn.page.slice(0, 300));
      } finally {
        await gw.close();
      }
    } finally {
      chatgpt.close();
    }
    const lmdb = new LmdbStore(store.slice('lmdb:'.length));
    try {
      const kept = await new LastGoodDocuments(lmdb).get(CHATGPT_CONNECTOR_ID);
      assert.equal(kept?.token_endpoint_auth_method, 'private_key_jwt', JSON.stringify(kept));
      assert.deepEqual(kept?.token_endpoint_auth_methods_supported, ['none', 'private_key_jwt']);
    } finally {
      await lmdb.close();
    }
  });

  it('never stands in for a document that was never good', async () => {
    const store = storage();
    hosts.serve(VSCODE_ID, 'html');
    try {
      await withGateway(store, async (gw) => {
        const refused = await authorizeOnce(gw, documentClient(VSCODE_ID, 'http://127.0.0.1:40000/'), 'http://127.0.0.1:40000/');
        assert.equal(refused.status, 400);
        assert.equal(refused.location, null);
      });
    } finally {
      hosts.serve(VSCODE_ID, 'document');
    }
  });
});
