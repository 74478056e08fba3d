/* eslint-disable max-lines -- each real client's flow beside the others, sharing one gateway and browser */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { captureRedirect, launchChromium, signInAndApprove } from './helpers/chromium.js';
import { ALICE, demoServerCommand, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import {
  authorizeUrl,
  decodeJwt,
  exchangeCode,
  pkcePair,
  refresh,
  register,
  registerClient,
  tokenRequest,
  type RegisteredClient,
} from './helpers/oauth-client.js';
import { freePort } from './helpers/ports.js';
import { replayLookupId } from '../src/authz/token-replay-seal.js';
import { startChatGptStandIn, type ChatGptStandIn } from './helpers/chatgpt-stand-in.js';

/**
 * Each client played step by step, with its exact redirect URIs, registration style and quirks
 * (see src/clients/client-profiles.json), from discovery to a tool call, in headless Chromium.
 */

const CHATGPT_CONNECTOR = 'https://chatgpt.com/connector/oauth/g-3f9a2c7d1e';
const CHATGPT_LEGACY = 'https://chatgpt.com/connector_platform_oauth_redirect';
const CHATGPT_CIMD = 'https://chatgpt.com/oauth/client.json';
const CLAUDE_AI = 'https://claude.ai/api/mcp/auth_callback';
const CLAUDE_COM = 'https://claude.com/api/mcp/auth_callback';
const CLAUDE_CIMD = 'https://claude.ai/oauth/mcp-oauth-client-metadata';

describe('real clients, played step by step', () => {
  let gw: TestGateway;
  let browser: Browser;
  let chatgpt: ChatGptStandIn;
  let resource = '';

  before(async () => {
    // chatgpt.com's documents and key set, reached through the SSRF-safe fetch.
    chatgpt = await startChatGptStandIn();
    [gw, browser] = await Promise.all([
      startTestGateway(
        {
          mcpServers: { demo: demoServerCommand, other: demoServerCommand },
          tokens: { accessTokenTtl: '1h', clients: { claude: { accessTokenTtl: '8h' } } },
        },
        { fetch: chatgpt.fetch },
      ),
      launchChromium(),
    ]);
    resource = `${gw.url}/mcp/demo`;
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    chatgpt?.close();
  });

  /** What every client does first: an unauthenticated MCP request, then the two metadata documents. */
  async function discover(): Promise<{ authorizationServer: Record<string, unknown> }> {
    const challenge = await fetch(resource, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    assert.equal(challenge.status, 401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge.headers.get('www-authenticate') ?? '')?.[1];
    assert.equal(metadataUrl, `${gw.url}/.well-known/oauth-protected-resource/mcp/demo`);
    const prm = (await (await fetch(metadataUrl!)).json()) as { resource: string; authorization_servers: string[] };
    assert.equal(prm.resource, resource);
    const issuer = prm.authorization_servers[0]!;
    const authorizationServer = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    // Claude.ai compares the issuer as a string: no trailing slash, same scheme and host.
    assert.equal(authorizationServer.issuer, issuer);
    assert.deepEqual(authorizationServer.code_challenge_methods_supported, ['S256']);
    return { authorizationServer };
  }

  /** Runs the browser part: authorize, sign in (first time only), consent (first time only), redirect. */
  async function authorizeInBrowser(
    page: Page,
    client: RegisteredClient,
    options: { redirectUri?: string; scope?: string; signIn: boolean; consent?: boolean },
  ): Promise<{ code: string; verifier: string; landed: URL }> {
    const redirectUri = options.redirectUri ?? client.redirect_uris[0]!;
    const { verifier, challenge } = pkcePair();
    const landedPromise = captureRedirect(page, redirectUri);
    // Without sign-in or consent the browser goes straight to the client, which does not exist here.
    await page
      .goto(authorizeUrl(gw.url, { client, redirectUri, challenge, method: 'S256', resource, scope: options.scope, state: 'client-state' }))
      .catch((error: unknown) => {
        if (!/ERR_NAME_NOT_RESOLVED/.test(String(error))) throw error;
      });
    if (options.signIn) await signInAndApprove(page, ALICE);
    else if (options.consent) await page.getByRole('button', { name: 'Allow' }).click();
    const landed = await landedPromise;
    assert.equal(landed.searchParams.get('state'), 'client-state');
    assert.equal(landed.searchParams.get('iss'), gw.url);
    const code = landed.searchParams.get('code');
    assert.ok(code, `no code: ${landed.href}`);
    return { code, verifier, landed };
  }

  /** authorizeInBrowser in a fresh browser context (no cookies: a first visit), closed afterwards. */
  async function authorizeInFreshBrowser(client: RegisteredClient, options: Parameters<typeof authorizeInBrowser>[2]) {
    const context = await browser.newContext();
    try {
      return await authorizeInBrowser(await context.newPage(), client, options);
    } finally {
      await context.close();
    }
  }

  async function callTool(accessToken: string, endpoint = resource): Promise<string> {
    const mcp = new McpTestClient(endpoint, accessToken);
    await mcp.initialize();
    const { result, error } = await mcp.request('tools/call', { name: 'echo', arguments: { text: 'hello from a connector' } });
    assert.equal(error, undefined);
    return (result as { content: Array<{ text: string }> }).content[0]!.text;
  }

  function flowEvents(clientId: string): string[] {
    return gw.logs.lines
      .filter((line) => line.includes(`"clientId":"${clientId}"`))
      .map((line) => (JSON.parse(line) as { event?: string }).event ?? '')
      .filter(Boolean);
  }

  describe('ChatGPT', () => {
    it('DCR with a per-connector redirect, duplicate code exchange, reconnect without scope, refresh', async () => {
      await discover();
      const client = await registerClient(gw.url, {
        client_name: 'ChatGPT',
        redirect_uris: [CHATGPT_CONNECTOR],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        const first = await authorizeInBrowser(page, client, { scope: 'mcp', signIn: true });
        // ChatGPT may send the exchange twice: the second gets the first's answer, the same tokens.
        const exchanged = await exchangeCode(gw.url, client, first.code, first.verifier, { resource });
        const duplicate = await exchangeCode(gw.url, client, first.code, first.verifier, { resource });
        assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
        assert.equal(duplicate.status, 200, JSON.stringify(duplicate.body));
        assert.equal(duplicate.body.access_token, exchanged.body.access_token);
        assert.equal(duplicate.body.refresh_token, exchanged.body.refresh_token);
        assert.equal(await callTool(exchanged.body.access_token!), 'hello from a connector');
        assert.equal(exchanged.body.expires_in, 3600);

        // Reconnecting, ChatGPT sends no scope: the session and remembered consent skip both pages.
        const again = await authorizeInBrowser(await context.newPage(), client, { signIn: false });
        const reconnected = await exchangeCode(gw.url, client, again.code, again.verifier, { resource });
        assert.equal(reconnected.status, 200, JSON.stringify(reconnected.body));
        assert.equal(decodeJwt(reconnected.body.access_token!).payload.scope, 'mcp');

        const refreshed = await refresh(gw.url, client, exchanged.body.refresh_token!);
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
        assert.equal(await callTool(refreshed.body.access_token!), 'hello from a connector');
      } finally {
        await context.close();
      }
    });

    it('three exchanges of one code at the same moment: all get the same tokens, and they work', async () => {
      const client = await registerClient(gw.url, {
        client_name: 'ChatGPT',
        redirect_uris: [CHATGPT_CONNECTOR],
        token_endpoint_auth_method: 'none',
      });
      const { code, verifier } = await authorizeInFreshBrowser(client, { scope: 'mcp', signIn: true });
      const results = await Promise.all([1, 2, 3].map(() => exchangeCode(gw.url, client, code, verifier, { resource })));
      assert.ok(
        results.every((r) => r.status === 200),
        JSON.stringify(results.map((r) => r.body.error_description ?? r.status)),
      );
      const issued = new Set(results.map((r) => `${r.body.access_token} ${r.body.refresh_token}`));
      assert.equal(issued.size, 1, 'one set of tokens');
      assert.equal(await callTool(results[0]!.body.access_token!), 'hello from a connector');
      const refreshed = await refresh(gw.url, client, results[0]!.body.refresh_token!);
      assert.equal(refreshed.status, 200, 'the grant survived the duplicates');
    });

    it('a code replayed after the duplicate window revokes what it issued, as the spec requires', async () => {
      const client = await registerClient(gw.url, {
        client_name: 'ChatGPT',
        redirect_uris: [CHATGPT_CONNECTOR],
        token_endpoint_auth_method: 'none',
      });
      const { code, verifier } = await authorizeInFreshBrowser(client, { scope: 'mcp', signIn: true });
      const tokens = await exchangeCode(gw.url, client, code, verifier, { resource });
      assert.equal(tokens.status, 200);
      // Let the duplicate window pass without waiting: the code was consumed a minute ago, and its
      // answer is no longer kept for repeats.
      await gw.running.store.set(`oidc:consumed:AuthorizationCode:${code}`, Math.floor(Date.now() / 1000) - 30);
      const repeat = { grantType: 'authorization_code', clientId: client.client_id, presented: code, params: {} };
      await gw.running.store.delete(`oidc:replay:${replayLookupId(repeat)}`);
      const replay = await exchangeCode(gw.url, client, code, verifier, { resource });
      assert.equal(replay.status, 400);
      assert.ok(
        gw.logs.lines.some((l) => l.includes('"event":"token.error"') && l.includes('authorization code already consumed')),
        'the log says why',
      );
      const refreshed = await refresh(gw.url, client, tokens.body.refresh_token!);
      assert.equal(refreshed.status, 400, 'the grant was revoked');
      assert.equal(refreshed.body.error, 'invalid_grant');
    });

    it('CIMD: the client.json client id with the legacy redirect, authenticated with private_key_jwt', async () => {
      const context = await browser.newContext();
      try {
        const client: RegisteredClient = {
          client_id: CHATGPT_CIMD,
          redirect_uris: [CHATGPT_LEGACY],
          token_endpoint_auth_method: 'private_key_jwt',
        };
        const { code, verifier } = await authorizeInBrowser(await context.newPage(), client, { scope: 'mcp', signIn: true });
        const assertion = await chatgpt.assertion({ aud: `${gw.url}/token` });
        const tokens = await exchangeCode(gw.url, client, code, verifier, { resource, ...assertion });
        assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
        assert.equal(await callTool(tokens.body.access_token!), 'hello from a connector');
      } finally {
        await context.close();
      }
    });
  });

  describe('Claude.ai', () => {
    for (const [method, redirect] of [
      ['client_secret_post', CLAUDE_AI],
      ['client_secret_basic', CLAUDE_COM],
    ] as const) {
      it(`DCR with ${method} (${new URL(redirect).host}), no offline_access, a long-lived token and no refresh`, async () => {
        const { authorizationServer } = await discover();
        // The fallback Claude.ai uses when path-form resource metadata is missing: endpoints at the issuer root.
        assert.equal(authorizationServer.authorization_endpoint, `${gw.url}/authorize`);
        assert.equal(authorizationServer.token_endpoint, `${gw.url}/token`);
        assert.equal(authorizationServer.registration_endpoint, `${gw.url}/register`);
        const client = await registerClient(gw.url, {
          client_name: 'Claude',
          redirect_uris: [redirect],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: method,
        });
        assert.equal(client.token_endpoint_auth_method, method);
        assert.ok(client.client_secret);
        const { code, verifier } = await authorizeInFreshBrowser(client, { scope: 'mcp', signIn: true });
        const tokens = await exchangeCode(gw.url, client, code, verifier, { resource });
        assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
        assert.ok(tokens.body.refresh_token, 'a refresh token without offline_access');
        // tokens.clients.claude.accessTokenTtl: Claude.ai often never refreshes.
        assert.equal(tokens.body.expires_in, 8 * 3600);
        const claims = decodeJwt(tokens.body.access_token!).payload;
        assert.equal(Number(claims.exp) - Number(claims.iat), 8 * 3600);
        assert.equal(await callTool(tokens.body.access_token!), 'hello from a connector');
      });
    }

    it("a stranger who adds Claude.ai's redirect URI to its own does not get Claude.ai's token lifetime", async () => {
      const client = await registerClient(gw.url, {
        client_name: 'Claude',
        redirect_uris: [CLAUDE_AI, 'https://evil.example/cb'],
        token_endpoint_auth_method: 'none',
      });
      const { code, verifier } = await authorizeInFreshBrowser(client, {
        redirectUri: 'https://evil.example/cb',
        scope: 'mcp',
        signIn: true,
      });
      const tokens = await tokenRequest(gw.url, client, {
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: 'https://evil.example/cb',
        resource,
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(tokens.body.expires_in, 3600);
    });

    it('refreshes from two addresses at once: both succeed and the grant lives on', async () => {
      const client = await registerClient(gw.url, {
        client_name: 'Claude',
        redirect_uris: [CLAUDE_AI],
        token_endpoint_auth_method: 'client_secret_post',
      });
      const { code, verifier } = await authorizeInFreshBrowser(client, { scope: 'mcp', signIn: true });
      const tokens = await exchangeCode(gw.url, client, code, verifier, { resource });
      const [a, b] = await Promise.all([
        refresh(gw.url, client, tokens.body.refresh_token!),
        refresh(gw.url, client, tokens.body.refresh_token!),
      ]);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(b.status, 200, JSON.stringify(b.body));
      const next = await refresh(gw.url, client, a.body.refresh_token!);
      assert.equal(next.status, 200, JSON.stringify(next.body));
      assert.equal(await callTool(next.body.access_token!), 'hello from a connector');
    });

    it('CIMD: the pinned Claude.ai metadata document', async () => {
      const context = await browser.newContext();
      try {
        const client: RegisteredClient = { client_id: CLAUDE_CIMD, redirect_uris: [CLAUDE_AI], token_endpoint_auth_method: 'none' };
        const { code, verifier } = await authorizeInBrowser(await context.newPage(), client, { scope: 'mcp', signIn: true });
        const tokens = await exchangeCode(gw.url, client, code, verifier, { resource });
        assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
        assert.equal(tokens.body.expires_in, 8 * 3600, 'recognised as Claude.ai by its metadata document');
      } finally {
        await context.close();
      }
    });
  });

  describe('MCP Inspector', () => {
    let inspector: Server;
    let inspectorOrigin = '';

    before(async () => {
      // Inspector's web UI runs on localhost and calls the gateway from the browser (CORS).
      const port = await freePort();
      inspectorOrigin = `http://localhost:${port}`;
      inspector = createServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Inspector</title><p>inspector'),
      );
      await new Promise<void>((r) => inspector.listen(port, '127.0.0.1', () => r()));
    });
    after(async () => {
      await new Promise((r) => inspector?.close(r));
    });

    it('web UI: discovery, registration, token and MCP calls from the browser, through CORS', async () => {
      // Another gateway, as the Inspector user configures it: the UI's origin is allowed on /mcp.
      const local = await startTestGateway({ allowedOrigins: [inspectorOrigin] });
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${inspectorOrigin}/`);
        const resourceUrl = `${local.url}/mcp/demo`;
        const registered = await page.evaluate(
          async ({ resourceUrl, origin }) => {
            const challenge = await fetch(resourceUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
            });
            const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge.headers.get('www-authenticate') ?? '')![1]!;
            const prm = await (await fetch(metadataUrl)).json();
            const as = await (await fetch(`${prm.authorization_servers[0]}/.well-known/oauth-authorization-server`)).json();
            const registration = await fetch(as.registration_endpoint, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                client_name: 'MCP Inspector',
                redirect_uris: [`${origin}/oauth/callback`, `${origin}/oauth/callback/debug`],
                token_endpoint_auth_method: 'none',
                grant_types: ['authorization_code', 'refresh_token'],
                response_types: ['code'],
              }),
            });
            return { status: registration.status, client: await registration.json(), tokenEndpoint: as.token_endpoint };
          },
          { resourceUrl, origin: inspectorOrigin },
        );
        assert.equal(registered.status, 201, JSON.stringify(registered.client));
        const client = registered.client as RegisteredClient;
        const { verifier, challenge } = pkcePair();
        const redirectUri = `${inspectorOrigin}/oauth/callback/debug`;
        await page.goto(
          authorizeUrl(local.url, { client, redirectUri, challenge, method: 'S256', resource: resourceUrl, scope: 'mcp', state: 's' }),
        );
        await signInAndApprove(page, ALICE);
        await page.waitForURL((url) => url.href.startsWith(redirectUri));
        const code = new URL(page.url()).searchParams.get('code')!;
        const text = await page.evaluate(
          async ({ tokenEndpoint, code, verifier, redirectUri, clientId, resourceUrl }) => {
            const token = await (
              await fetch(tokenEndpoint, {
                method: 'POST',
                body: new URLSearchParams({
                  grant_type: 'authorization_code',
                  code,
                  code_verifier: verifier,
                  redirect_uri: redirectUri,
                  client_id: clientId,
                  resource: resourceUrl,
                }),
              })
            ).json();
            const headers = {
              authorization: `Bearer ${token.access_token}`,
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
            };
            const init = await fetch(resourceUrl, {
              method: 'POST',
              headers,
              body: JSON.stringify({
                jsonrpc: '2.0',
                id: 1,
                method: 'initialize',
                params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'inspector', version: '1' } },
              }),
            });
            const session = init.headers.get('mcp-session-id')!;
            const withSession = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
            await fetch(resourceUrl, {
              method: 'POST',
              headers: withSession,
              body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
            });
            const call = await fetch(resourceUrl, {
              method: 'POST',
              headers: withSession,
              body: JSON.stringify({
                jsonrpc: '2.0',
                id: 2,
                method: 'tools/call',
                params: { name: 'echo', arguments: { text: 'from the browser' } },
              }),
            });
            const body = await call.text();
            const json = JSON.parse(body.includes('data:') ? body.split('data:')[1]! : body);
            return json.result.content[0].text as string;
          },
          { tokenEndpoint: registered.tokenEndpoint, code, verifier, redirectUri, clientId: client.client_id, resourceUrl },
        );
        assert.equal(text, 'from the browser');
      } finally {
        await context.close();
        await local.close();
      }
    });

    it('CLI: the 127.0.0.1:6276 redirect; native clients may use any loopback port (RFC 8252)', async () => {
      const cli = await registerClient(gw.url, {
        client_name: 'MCP Inspector CLI',
        redirect_uris: ['http://127.0.0.1:6276/oauth/callback'],
        token_endpoint_auth_method: 'none',
      });
      const native = await registerClient(gw.url, {
        client_name: 'Native app',
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/oauth/callback'],
        token_endpoint_auth_method: 'none',
      });
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const first = await authorizeInBrowser(page, cli, { scope: 'mcp', signIn: true });
        assert.equal((await exchangeCode(gw.url, cli, first.code, first.verifier, { resource })).status, 200);
        const ephemeral = 'http://127.0.0.1:49321/oauth/callback';
        const second = await authorizeInBrowser(await context.newPage(), native, {
          redirectUri: ephemeral,
          scope: 'mcp',
          signIn: false,
          consent: true,
        });
        const tokens = await tokenRequest(gw.url, native, {
          grant_type: 'authorization_code',
          code: second.code,
          code_verifier: second.verifier,
          redirect_uri: ephemeral,
          resource,
        });
        assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
        // A web client's redirect URI stays exact, port included.
        const web = await registerClient(gw.url, {
          redirect_uris: ['http://127.0.0.1:6276/oauth/callback'],
          token_endpoint_auth_method: 'none',
        });
        const wrongPort = await fetch(
          authorizeUrl(gw.url, {
            client: web,
            redirectUri: 'http://127.0.0.1:6277/oauth/callback',
            challenge: pkcePair().challenge,
            method: 'S256',
            resource,
          }),
          { redirect: 'manual' },
        );
        assert.equal(wrongPort.status, 400, 'an error page, never a redirect to the unregistered port');
        assert.match(await wrongPort.text(), /redirect_uri/);
      } finally {
        await context.close();
      }
    });
  });

  describe('flow trace', () => {
    it('one grep for the client id shows every step, and errors carry what the client was told', async () => {
      const client = await registerClient(gw.url, {
        client_name: 'Traced',
        redirect_uris: [CHATGPT_CONNECTOR],
        token_endpoint_auth_method: 'none',
      });
      const context = await browser.newContext();
      let code = '';
      let verifier = '';
      try {
        ({ code, verifier } = await authorizeInBrowser(await context.newPage(), client, { scope: 'mcp', signIn: true }));
        const bad = await exchangeCode(gw.url, client, code, 'x'.repeat(43), { resource });
        assert.equal(bad.status, 400);
        const tokens = await exchangeCode(gw.url, client, code, verifier, { resource });
        await callTool(tokens.body.access_token!);
        // A token for one server presented to another.
        const other = await fetch(`${gw.url}/mcp/other`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${tokens.body.access_token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
        });
        assert.equal(other.status, 401);
      } finally {
        await context.close();
      }
      const events = flowEvents(client.client_id);
      const expected = [
        'register',
        'authorize',
        'authorize.prompt',
        'login.success',
        'authorize.prompt',
        'consent.granted',
        'authorize.accepted',
        'code.issued',
        'token.error',
        'token.issued',
        'mcp.session',
        'mcp.token_refused',
      ];
      let at = 0;
      for (const event of events) if (event === expected[at]) at += 1;
      assert.equal(at, expected.length, `events in order: ${events.join(' → ')}`);
      const tokenError = gw.logs.lines.find((l) => l.includes('"event":"token.error"') && l.includes(client.client_id))!;
      assert.match(tokenError, /"error":"invalid_grant"/);
      assert.match(tokenError, /"detail":"code_verifier does not match code_challenge"/);
      const refused = gw.logs.lines.find((l) => l.includes('"event":"mcp.token_refused"') && l.includes(client.client_id))!;
      assert.match(refused, /"server":"other"/);
      assert.ok(!gw.logs.lines.some((l) => l.includes(code) || l.includes(verifier)), 'codes and verifiers never reach the log');
    });
  });

  it('registration is refused for a redirect URI no client uses', async () => {
    const refused = await register(gw.url, { redirect_uris: ['http://attacker.example/callback'] });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_redirect_uri');
  });
});
