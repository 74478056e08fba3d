/* eslint-disable max-lines -- one mcp-remote config directory carried through runs that depend on each other */
// Real third-party MCP clients through the gateway, each doing its own discovery, dynamic
// registration and PKCE sign-in (in headless Chromium, landing on the client's own loopback
// callback, nothing intercepted), then using tools: mcp-remote (over its stdio side, with stored
// and refreshed tokens on later runs) and the MCP Inspector's CLI.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { packageRoot } from '../src/paths.js';
import { launchChromium, signInAndApprove } from './helpers/chromium.js';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';

const MCP_REMOTE = resolve(packageRoot, 'node_modules/mcp-remote/dist/proxy.js');
// The Inspector needs Node 22.19+, so like the conformance suite it is fetched by npx with Node 22.
const INSPECTOR_PACKAGE = '@modelcontextprotocol/inspector@2.12.0';
const AUTH_URL = /Please authorize this client by visiting:\s*\n(\S+)/;

interface JsonRpcResponse {
  id: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** One mcp-remote process, spoken to the way a desktop MCP host does: JSON lines on stdin/stdout. */
class McpRemote {
  readonly child: ChildProcess;
  stderr = '';
  private stdoutBuffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, (message: JsonRpcResponse) => void>();
  private readonly stderrWaiters = new Set<() => void>();
  readonly exited: Promise<number | null>;

  constructor(args: string[], configDir: string) {
    this.child = spawn(process.execPath, [MCP_REMOTE, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // BROWSER=true: the `open` package's xdg-open runs `true <url>`, so no real browser is
      // started and the URL printed on stderr is the one Chromium visits.
      // MCP_REMOTE_CONFIG_DIR: tokens and client registration go to a temporary directory.
      env: { ...process.env, BROWSER: 'true', MCP_REMOTE_CONFIG_DIR: configDir, DISPLAY: '', WAYLAND_DISPLAY: '' },
    });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    this.child.stderr!.on('data', (chunk) => {
      this.stderr += chunk;
      for (const wake of this.stderrWaiters) wake();
    });
    this.child.stdout!.on('data', (chunk) => {
      this.stdoutBuffer += chunk;
      let newline;
      while ((newline = this.stdoutBuffer.indexOf('\n')) !== -1) {
        const line = this.stdoutBuffer.slice(0, newline).trim();
        this.stdoutBuffer = this.stdoutBuffer.slice(newline + 1);
        if (!line) continue;
        let message: JsonRpcResponse;
        try {
          message = JSON.parse(line) as JsonRpcResponse;
        } catch {
          this.stderr += `(stdout, not JSON-RPC) ${line}\n`;
          continue;
        }
        if (typeof message.id === 'number') this.pending.get(message.id)?.(message);
      }
    });
  }

  waitForStderr(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolvePromise, reject) => {
      const check = () => {
        const match = this.stderr.match(pattern);
        if (match) {
          done();
          resolvePromise(match);
          return;
        }
        if (this.child.exitCode !== null) {
          done();
          reject(new Error(`mcp-remote exited (${this.child.exitCode}) before printing ${pattern}:\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`mcp-remote did not print ${pattern} within ${ms} ms:\n${this.stderr}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.stderrWaiters.delete(check);
        this.child.off('exit', check);
      };
      this.stderrWaiters.add(check);
      this.child.on('exit', check);
      check();
    });
  }

  request(method: string, params: Record<string, unknown> = {}, ms = 10_000): Promise<JsonRpcResponse> {
    const id = this.nextId++;
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${method} within ${ms} ms:\n${this.stderr}`));
      }, ms);
      this.pending.set(id, (message) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolvePromise(message);
      });
      this.child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  notify(method: string, params: Record<string, unknown> = {}): void {
    this.child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`);
  }

  /** Closing stdin is how a host stops it; SIGKILL if it does not go within 3 s. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await this.exited;
    clearTimeout(timer);
  }
}

interface LogLine {
  event?: string;
  msg?: string;
  [key: string]: unknown;
}

interface WireRecord {
  method: string;
  path: string;
  status?: number;
  body?: string;
}

/**
 * Records every request the gateway's HTTP server receives (path without the query, status, and
 * the body of POSTs) without touching the gateway: the body is seen as the gateway itself reads it.
 */
function tapRequests(server: Server): WireRecord[] {
  const seen: WireRecord[] = [];
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const record: WireRecord = { method: req.method ?? '', path: (req.url ?? '').split('?')[0]! };
    seen.push(record);
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      const emit = req.emit.bind(req);
      req.emit = ((event: string, ...args: unknown[]) => {
        if (event === 'data') chunks.push(Buffer.from(args[0] as Buffer));
        if (event === 'end') record.body = Buffer.concat(chunks).toString();
        return emit(event, ...args);
      }) as typeof req.emit;
    }
    res.once('finish', () => {
      record.status = res.statusCode;
    });
  });
  return seen;
}

describe('mcp-remote (stdio ⇄ Streamable HTTP + OAuth) through the gateway', { timeout: 90_000 }, () => {
  let gw: TestGateway;
  let browser: Browser;
  let configDir: string;
  let callbackPort: number;
  let serverUrl: string;
  let wire: WireRecord[];
  const processes: McpRemote[] = [];
  const events = (event: string): LogLine[] =>
    gw.logs.lines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.event === event);
  const oauthRequests = (records: WireRecord[]) =>
    records.filter(
      (r) =>
        !r.path.startsWith('/mcp/') && !r.path.startsWith('/interaction/') && !r.path.startsWith('/static/') && r.path !== '/favicon.ico',
    );
  const rpcMethod = (r: WireRecord) => {
    try {
      return ` ${(JSON.parse(r.body ?? '') as { method?: string }).method ?? 'response'}`;
    } catch {
      return '';
    }
  };
  const summary = (records: WireRecord[]) =>
    records.map((r) => `${r.method} ${r.path}${r.path.startsWith('/mcp/') ? rpcMethod(r) : ''} ${r.status ?? '(stream)'}`);
  const form = (record: WireRecord | undefined) => new URLSearchParams(record?.body ?? '');

  function startMcpRemote(): McpRemote {
    const remote = new McpRemote([serverUrl, String(callbackPort), '--transport', 'http-only'], configDir);
    processes.push(remote);
    return remote;
  }

  /** The host's side of the MCP conversation, over mcp-remote's stdin/stdout. */
  async function useTools(remote: McpRemote): Promise<void> {
    const init = await remote.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'mcp-remote-test-host', version: '1.0.0' },
    });
    assert.equal(init.error, undefined, JSON.stringify(init.error));
    assert.equal((init.result!.serverInfo as { name: string }).name, 'gateway-demo');
    remote.notify('notifications/initialized');
    const list = await remote.request('tools/list');
    assert.equal(list.error, undefined, JSON.stringify(list.error));
    const names = (list.result!.tools as { name: string }[]).map((tool) => tool.name).sort();
    assert.deepEqual(names, ['add', 'echo', 'time']);
    const sum = await remote.request('tools/call', { name: 'add', arguments: { a: 20, b: 22 } });
    assert.deepEqual(sum.result, { content: [{ type: 'text', text: '42' }] });
    const echo = await remote.request('tools/call', { name: 'echo', arguments: { text: 'through mcp-remote' } });
    assert.deepEqual(echo.result, { content: [{ type: 'text', text: 'through mcp-remote' }] });
  }

  function tokensFile(): string {
    const dir = join(configDir, 'mcp-remote-v1');
    const file = readdirSync(dir).find((name) => name.endsWith('_tokens.json'));
    assert.ok(file, `mcp-remote stored no tokens in ${dir}`);
    return join(dir, file);
  }
  const storedTokens = (): { access_token: string; refresh_token: string; expires_at?: number } =>
    JSON.parse(readFileSync(tokensFile(), 'utf8'));

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'mcp-remote-'));
    [gw, browser, callbackPort] = await Promise.all([startTestGateway(), launchChromium(), freePort()]);
    serverUrl = `${gw.url}/mcp/demo`;
    wire = tapRequests(gw.running.server);
  });
  after(async () => {
    await Promise.all(processes.map((remote) => remote.close()));
    await browser?.close();
    await gw?.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('first run: discovery, registration, PKCE sign-in in Chromium to its own callback, then tools over stdio', async (t) => {
    const remote = startMcpRemote();
    const [, authUrl] = await remote.waitForStderr(AUTH_URL);
    const authorize = new URL(authUrl!);
    assert.equal(authorize.origin + authorize.pathname, `${gw.url}/authorize`);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authorize.searchParams.get('redirect_uri'), `http://localhost:${callbackPort}/oauth/callback`);
    assert.equal(authorize.searchParams.get('resource'), serverUrl);
    t.diagnostic(
      `authorization request: ${[...authorize.searchParams]
        .filter(([key]) => !['state', 'code_challenge'].includes(key))
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')}`,
    );

    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // Nothing is intercepted: the browser is redirected to mcp-remote's callback server.
      const callback = page.waitForResponse((response) => response.url().startsWith(`http://localhost:${callbackPort}/oauth/callback?`), {
        timeout: 15_000,
      });
      await page.goto(authUrl!);
      await signInAndApprove(page, ALICE);
      const landed = await callback;
      assert.equal(landed.status(), 200);
      assert.ok(new URL(landed.url()).searchParams.get('code'));
      assert.equal(new URL(landed.url()).searchParams.get('iss'), gw.url);
      assert.match(await landed.text(), /Authorization successful!/);
    } finally {
      await context.close();
    }

    await remote.waitForStderr(/Local STDIO server running/);
    await useTools(remote);
    await remote.close();

    assert.match(remote.stderr, /Browser opened automatically/, 'the opener ran BROWSER=true, not a real browser');
    // What mcp-remote sent, as the gateway received it.
    const oauth = oauthRequests(wire);
    t.diagnostic(`OAuth requests: ${summary(oauth).join(' | ')}`);
    t.diagnostic(`MCP requests: ${summary(wire.filter((r) => r.path.startsWith('/mcp/'))).join(' | ')}`);
    const registration = wire.find((r) => r.method === 'POST' && r.path === '/register');
    t.diagnostic(`registration body: ${registration?.body}`);
    assert.deepEqual(
      wire[0],
      { method: 'GET', path: '/mcp/demo', status: 401 },
      'it starts with an unauthenticated MCP request and gets the challenge',
    );
    assert.ok(summary(oauth).includes('GET /.well-known/oauth-protected-resource/mcp/demo 200'));
    assert.ok(summary(oauth).includes('GET /.well-known/oauth-authorization-server 200'));
    assert.deepEqual(
      oauth.filter((r) => r.status! >= 400),
      [],
      'no discovery or OAuth request was refused',
    );
    assert.equal(registration?.status, 201);
    const registered = JSON.parse(registration.body!) as Record<string, unknown>;
    assert.deepEqual(registered.redirect_uris, [`http://localhost:${callbackPort}/oauth/callback`]);
    assert.deepEqual(registered.grant_types, ['authorization_code', 'refresh_token']);
    const tokenRequests = wire.filter((r) => r.path === '/token');
    assert.equal(tokenRequests.length, 1);
    assert.equal(form(tokenRequests[0]).get('grant_type'), 'authorization_code');
    assert.ok(form(tokenRequests[0]).get('code_verifier'), 'PKCE verifier sent');
    assert.equal(form(tokenRequests[0]).get('resource'), serverUrl);
    assert.ok(
      wire.some((r) => r.method === 'POST' && r.path === '/mcp/demo' && r.status === 200),
      'authorized MCP requests went through',
    );

    // What the gateway logged about it.
    const [client] = events('register');
    assert.ok(client, 'the gateway logged a registration');
    assert.equal(client.clientName, 'MCP CLI Proxy');
    assert.equal(events('register').length, 1);
    const issued = events('token.issued');
    assert.equal(issued.length, 1);
    assert.equal(issued[0]!.grantType, 'authorization_code');
    assert.equal(issued[0]!.clientId, client.clientId);
    assert.equal(issued[0]!.refreshToken, true);
    t.diagnostic(`token issued: scope=${issued[0]!.scope} expires_in=${issued[0]!.expiresIn}`);
    for (const refused of ['register.error', 'authorize.error', 'token.error', 'mcp.token_refused'])
      assert.deepEqual(events(refused), [], refused);
    assert.ok(storedTokens().refresh_token, 'mcp-remote stored a refresh token');
  });

  /** Runs mcp-remote again on the same config directory, uses the tools, and checks it opened no browser. */
  async function runAgainWithoutBrowser(): Promise<{ remote: McpRemote; requests: WireRecord[] }> {
    const from = wire.length;
    const remote = startMcpRemote();
    await remote.waitForStderr(/Local STDIO server running/);
    await useTools(remote);
    await remote.close();
    assert.doesNotMatch(remote.stderr, AUTH_URL);
    return { remote, requests: wire.slice(from) };
  }

  it('second run with the same config directory: stored tokens, no browser, no token request', async (t) => {
    const { requests } = await runAgainWithoutBrowser();
    assert.deepEqual(
      summary(oauthRequests(requests)).filter((line) => /\/(register|token|authorize)\b/.test(line)),
      [],
    );
    t.diagnostic(`requests: ${summary(requests).join(' | ')}`);
    // The one refusal is its unauthenticated probe for the challenge; every request with the stored token passes.
    assert.deepEqual(
      requests.filter((r) => (r.status ?? 0) >= 400).map((r) => `${r.method} ${r.path} ${r.status}`),
      ['GET /mcp/demo 401'],
    );
    assert.deepEqual(events('mcp.token_refused'), []);
    assert.equal(events('token.issued').length, 1);
  });

  it('third run with the stored access token about to expire: refreshes (rotating the refresh token), no browser', async (t) => {
    // Stands in for an hour passing: mcp-remote refreshes a token within 60 s of the expiry it recorded.
    const stale = storedTokens();
    writeFileSync(tokensFile(), JSON.stringify({ ...stale, expires_at: Date.now() + 1_000 }));
    const { remote, requests: later } = await runAgainWithoutBrowser();
    t.diagnostic(`OAuth requests: ${summary(oauthRequests(later)).join(' | ')}`);
    const tokenRequests = later.filter((r) => r.path === '/token');
    assert.equal(tokenRequests.length, 1, remote.stderr);
    assert.equal(tokenRequests[0]!.status, 200);
    assert.equal(form(tokenRequests[0]).get('grant_type'), 'refresh_token');
    assert.equal(form(tokenRequests[0]).get('resource'), serverUrl);
    assert.ok(!later.some((r) => r.path === '/register' || r.path.startsWith('/authorize')));
    const refreshes = events('token.issued').filter((line) => line.grantType === 'refresh_token');
    assert.equal(refreshes.length, 1);
    assert.equal(refreshes[0]!.refreshToken, true);
    assert.deepEqual(events('token.error'), []);
    const fresh = storedTokens();
    assert.notEqual(fresh.refresh_token, stale.refresh_token, 'the refresh token rotated');
    assert.notEqual(fresh.access_token, stale.access_token);
  });
});

/** Node 22 and the Inspector's launcher, fetched by npx (cached after the first run). */
function resolveInspector(): Promise<{ node: string; launcher: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      'npx',
      ['-y', '-p', 'node@22', '-p', INSPECTOR_PACKAGE, '-c', 'command -v node; command -v inspector'],
      { timeout: 180_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`npx could not provide ${INSPECTOR_PACKAGE} with Node 22: ${error.message}\n${stderr}`));
          return;
        }
        const [node, inspector] = stdout.trim().split('\n');
        resolvePromise({ node: node!, launcher: realpathSync(inspector!) });
      },
    );
  });
}

describe(`MCP Inspector CLI (${INSPECTOR_PACKAGE} --cli) through the gateway`, { timeout: 240_000 }, () => {
  let gw: TestGateway;
  let browser: Browser;
  let home: string;
  let callbackUrl: string;
  let inspector: { node: string; launcher: string };
  let wire: WireRecord[];
  const children = new Set<ChildProcess>();
  const events = (event: string): LogLine[] =>
    gw.logs.lines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.event === event);

  /** One `inspector --cli` command; resolves when it exits. `onStderr` sees stderr as it grows. */
  function runInspector(
    args: string[],
    onStderr?: (stderr: string) => void,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(
      inspector.node,
      [
        inspector.launcher,
        '--cli',
        `${gw.url}/mcp/demo`,
        '--transport',
        'http',
        '--callback-url',
        callbackUrl,
        '--format',
        'json',
        ...args,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        // HOME: its catalog, OAuth state and secrets file go to a temporary directory, never ~/.mcp-inspector.
        // MCP_AUTO_OPEN_ENABLED=true: without a TTY the CLI refuses interactive OAuth unless told to open a
        // browser; BROWSER=true makes that "browser" a no-op, and the URL it prints is what Chromium visits.
        env: {
          ...process.env,
          HOME: home,
          MCP_INSPECTOR_SECRET_STORE: 'file',
          MCP_AUTO_OPEN_ENABLED: 'true',
          BROWSER: 'true',
          DISPLAY: '',
          WAYLAND_DISPLAY: '',
          NO_COLOR: '1',
        },
      },
    );
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    return new Promise((resolvePromise) =>
      child.once('exit', (code) => {
        clearTimeout(timer);
        children.delete(child);
        resolvePromise({ code, stdout, stderr });
      }),
    );
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'inspector-home-'));
    let port: number;
    [gw, browser, port, inspector] = await Promise.all([startTestGateway(), launchChromium(), freePort(), resolveInspector()]);
    callbackUrl = `http://127.0.0.1:${port}/oauth/callback`;
    wire = tapRequests(gw.running.server);
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await browser?.close();
    await gw?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('tools/list: discovery, registration, PKCE sign-in in Chromium to its own callback listener', async (t) => {
    const context = await browser.newContext();
    let signIn: Promise<void> | undefined;
    try {
      const page = await context.newPage();
      const run = runInspector(['--method', 'tools/list'], (stderr) => {
        const match = stderr.match(/Please navigate to: (\S+)/);
        if (!match || signIn) return;
        signIn = (async () => {
          const authorize = new URL(match[1]!);
          assert.equal(authorize.origin + authorize.pathname, `${gw.url}/authorize`);
          assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
          assert.equal(authorize.searchParams.get('redirect_uri'), callbackUrl);
          assert.equal(authorize.searchParams.get('resource'), `${gw.url}/mcp/demo`);
          // Nothing is intercepted: the browser is redirected to the Inspector's callback listener.
          const callback = page.waitForResponse((response) => response.url().startsWith(`${callbackUrl}?`), { timeout: 15_000 });
          await page.goto(authorize.href);
          await signInAndApprove(page, ALICE);
          const landed = await callback;
          assert.equal(landed.status(), 200);
          assert.equal(new URL(landed.url()).searchParams.get('iss'), gw.url);
        })();
        // A failed sign-in ends the run at once instead of leaving the CLI waiting for its callback.
        signIn.catch(() => {
          for (const child of children) child.kill('SIGKILL');
        });
      });
      const result = await run;
      assert.ok(signIn, `the Inspector printed no authorization URL:\n${result.stderr}`);
      await signIn;
      assert.equal(result.code, 0, result.stderr);
      const tools = (JSON.parse(result.stdout) as { result: { tools: { name: string }[] } }).result.tools.map((tool) => tool.name).sort();
      assert.deepEqual(tools, ['add', 'echo', 'time']);
    } finally {
      await context.close();
    }

    const registration = wire.find((r) => r.method === 'POST' && r.path === '/register');
    t.diagnostic(
      `requests: ${wire
        .filter((r) => !r.path.startsWith('/interaction/') && !r.path.startsWith('/static/'))
        .map((r) => `${r.method} ${r.path} ${r.status ?? '(stream)'}`)
        .join(' | ')}`,
    );
    t.diagnostic(`registration body: ${registration?.body}`);
    assert.equal(registration?.status, 201);
    const [client] = events('register');
    assert.ok(client);
    const issued = events('token.issued');
    assert.equal(issued.length, 1);
    assert.equal(issued[0]!.grantType, 'authorization_code');
    assert.equal(issued[0]!.clientId, client.clientId);
    const tokenRequest = new URLSearchParams(wire.find((r) => r.path === '/token')?.body ?? '');
    assert.ok(tokenRequest.get('code_verifier'));
    assert.equal(tokenRequest.get('resource'), `${gw.url}/mcp/demo`);
    for (const refused of ['register.error', 'authorize.error', 'token.error', 'mcp.token_refused'])
      assert.deepEqual(events(refused), [], refused);
  });

  it('tools/call with --stored-auth-only: the stored token, no browser, no token request', async () => {
    const from = wire.length;
    const result = await runInspector(['--stored-auth-only', '--method', 'tools/call', '--tool-name', 'add', '--tool-arg', 'a=20', 'b=22']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { result: { content: [{ type: 'text', text: '42' }] } });
    assert.doesNotMatch(result.stderr, /Please navigate to/);
    assert.deepEqual(
      wire.slice(from).filter((r) => ['/register', '/token', '/authorize'].includes(r.path)),
      [],
    );
    assert.equal(events('token.issued').length, 1);
    assert.deepEqual(events('mcp.token_refused'), []);
  });
});
