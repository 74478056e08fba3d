import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { forbiddenAddressReason } from '../src/net/address-policy.js';
import { createSafeFetch, OutboundRefused, type SafeFetchOptions } from '../src/net/safe-fetch.js';

const HOST = 'tools.example.org';

/** A throwaway certificate for HOST (openssl ships with the base system). */
function certificateFor(host: string): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'gw-cert-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

describe('safe outbound fetch', () => {
  let server: Server;
  let port = 0;
  let cert: Buffer;
  let connections = 0;
  const seen: Array<{
    servername: string | false | null;
    host: string | undefined;
    path: string | undefined;
    userAgent: string | undefined;
  }> = [];
  let lookups: string[] = [];

  /** Resolves HOST to 127.0.0.1, which this test's policy (and only it) treats as public. */
  const options = (extra: SafeFetchOptions = {}): SafeFetchOptions => ({
    port,
    ca: cert,
    resolve: async (hostname) => {
      lookups.push(hostname);
      return [{ address: '127.0.0.1', family: 4 }];
    },
    addressProblem: (address) => (address === '127.0.0.1' ? undefined : forbiddenAddressReason(address)),
    ...extra,
  });

  before(async () => {
    const credentials = certificateFor(HOST);
    cert = credentials.cert;
    server = createServer(credentials, (req, res) => {
      seen.push({
        servername: (req.socket as TLSSocket).servername,
        host: req.headers.host,
        path: req.url,
        userAgent: req.headers['user-agent'],
      });
      if (req.url === '/redirect') res.writeHead(302, { location: `https://${HOST}:${port}/doc` }).end();
      else if (req.url === '/big') res.writeHead(200).end('x'.repeat(5000));
      else if (req.url === '/big-chunked') {
        res.writeHead(200);
        res.write('x'.repeat(3000));
        res.end('x'.repeat(3000));
      } else if (req.url === '/slow') {
        /* never answers */
      } else res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end('{"ok":true}');
    });
    server.on('connection', () => {
      connections++;
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('connects to the address it checked, with the original name for TLS and Host, and is usable as oidc-provider calls it', async () => {
    lookups = [];
    seen.length = 0;
    const safeFetch = createSafeFetch(options());
    // What oidc-provider passes: its own dispatcher (ignored), an empty user-agent, manual redirects and a timeout signal.
    const response = await safeFetch(`https://${HOST}:${port}/doc?x=1`, {
      method: 'GET',
      headers: new Headers({ accept: 'application/json', 'user-agent': '' }),
      redirect: 'manual',
      signal: AbortSignal.timeout(2500),
      dispatcher: {},
    } as RequestInit);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true });
    assert.equal(response.headers.get('cache-control'), 'max-age=60');
    assert.deepEqual(lookups, [HOST], 'resolved once, then pinned: no second DNS answer is asked for');
    assert.deepEqual(seen, [{ servername: HOST, host: `${HOST}:${port}`, path: '/doc?x=1', userAgent: 'mcp-oauth-gateway' }]);
  });

  it('refuses a name when any of its addresses is internal, before connecting', async () => {
    const before = connections;
    for (const answer of [['127.0.0.1', '10.0.0.1'], ['8.8.8.8', '::1'], ['169.254.169.254'], ['::ffff:192.168.0.1'], []]) {
      const safeFetch = createSafeFetch(
        options({ resolve: async () => answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })) }),
      );
      await assert.rejects(safeFetch(`https://${HOST}:${port}/doc`), OutboundRefused, answer.join(','));
    }
    const strict = createSafeFetch({ port, ca: cert, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    await assert.rejects(strict(`https://${HOST}:${port}/doc`), /resolves to 127\.0\.0\.1 \(loopback\)/);
    await assert.rejects(createSafeFetch({ port })(`https://127.0.0.1:${port}/doc`), /loopback/);
    assert.equal(connections, before, 'no connection was opened');
  });

  it('refuses other schemes and ports without resolving', async () => {
    lookups = [];
    const safeFetch = createSafeFetch(options());
    await assert.rejects(safeFetch(`http://${HOST}:${port}/doc`), /only https/);
    await assert.rejects(safeFetch(`https://${HOST}:${port + 1}/doc`), /only port/);
    await assert.rejects(createSafeFetch()(`https://${HOST}:${port}/doc`), /only port 443/);
    assert.deepEqual(lookups, []);
  });

  it('returns redirects without following them', async () => {
    seen.length = 0;
    const response = await createSafeFetch(options())(`https://${HOST}:${port}/redirect`, { redirect: 'follow' });
    assert.equal(response.status, 302);
    assert.equal(seen.length, 1);
  });

  it('caps the body size, declared or streamed', async () => {
    const safeFetch = createSafeFetch(options({ maxBytes: 4096 }));
    await assert.rejects(safeFetch(`https://${HOST}:${port}/big`), /larger than 4096 bytes/);
    await assert.rejects(safeFetch(`https://${HOST}:${port}/big-chunked`), /larger than 4096 bytes/);
  });

  it("caps the time, and honours the caller's signal", async () => {
    const started = Date.now();
    await assert.rejects(createSafeFetch(options({ timeoutMs: 300 }))(`https://${HOST}:${port}/slow`), /no answer within 300 ms/);
    assert.ok(Date.now() - started < 2000);
    await assert.rejects(createSafeFetch(options())(`https://${HOST}:${port}/slow`, { signal: AbortSignal.timeout(200) }));
    const slowDns = createSafeFetch(options({ timeoutMs: 200, resolve: () => new Promise(() => {}) }));
    await assert.rejects(slowDns(`https://${HOST}:${port}/doc`), /no answer within 200 ms/);
  });

  it('checks the certificate against the original name', async () => {
    const wrongName = createSafeFetch(options());
    await assert.rejects(wrongName(`https://other.example.org:${port}/doc`), (error: Error & { code?: string }) =>
      /ERR_TLS_CERT_ALTNAME_INVALID/.test(`${error.code} ${error.message}`),
    );
  });
});
