import assert from 'node:assert/strict';
import { createServer, Socket, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeUrl, pkcePair, register } from './helpers/oauth-client.js';

/** Every outgoing TCP connection this process starts, as host:port (a recorder, not a fake). */
function recordConnections(): { seen: string[]; stop(): void } {
  const seen: string[] = [];
  const original = Socket.prototype.connect;
  Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
    const first = args[0] as { host?: string; port?: number; path?: string } | number | unknown[];
    const options = Array.isArray(first) ? (first[0] as { host?: string; port?: number }) : first;
    if (typeof options === 'object' && options) seen.push(`${options.host ?? 'localhost'}:${options.port}`);
    else if (typeof options === 'number') seen.push(`${typeof args[1] === 'string' ? args[1] : 'localhost'}:${options}`);
    return (original as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof original;
  return {
    seen,
    stop: () => {
      Socket.prototype.connect = original;
    },
  };
}

async function listen(port: number, host: string): Promise<{ server: Server; port: number; connections: () => number } | undefined> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch {
    return undefined; // port 443 needs privileges; the connection recorder still covers it
  }
  return { server, port: (server.address() as { port: number }).port, connections: () => connections };
}

describe('outbound fetches driven by a client_id URL (default fetch, no test seam)', () => {
  let gw: TestGateway;
  let listener: NonNullable<Awaited<ReturnType<typeof listen>>>;
  let listener443: Awaited<ReturnType<typeof listen>>;

  before(async () => {
    gw = await startTestGateway();
    listener = (await listen(0, '127.0.0.1'))!;
    listener443 = await listen(443, '127.0.0.1');
  });
  after(async () => {
    await gw.close();
    listener.server.close();
    listener443?.server.close();
  });

  it('refuses loopback client_id URLs in every spelling without opening a connection', async () => {
    const port = listener.port;
    const ids = [
      `https://127.0.0.1:${port}/x`,
      `https://localhost:${port}/x`,
      `https://[::ffff:127.0.0.1]:${port}/x`,
      'https://2130706433/',
      'https://127.1/',
      'https://0x7f.0.0.1/x',
      'https://[::1]/x',
      'https://localhost/x',
    ];
    const recorder = recordConnections();
    try {
      for (const id of ids) {
        const client = { client_id: id, redirect_uris: ['https://tools.example.org/callback'], token_endpoint_auth_method: 'none' };
        const response = await fetch(authorizeUrl(gw.url, { client, challenge: pkcePair().challenge, method: 'S256' }), {
          redirect: 'manual',
        });
        assert.equal(response.status, 400, `${id}: ${response.status}`);
        await response.text();
      }
    } finally {
      recorder.stop();
    }
    const gatewayPort = new URL(gw.url).port;
    const outbound = recorder.seen.filter((target) => !target.endsWith(`:${gatewayPort}`));
    assert.deepEqual(outbound, [], 'no TCP connection was started for a forbidden address');
    assert.equal(listener.connections(), 0, 'the listener on 127.0.0.1 saw no connection');
    if (listener443) assert.equal(listener443.connections(), 0, 'nothing reached 127.0.0.1:443');
  });

  it('refuses to register a jwks_uri or sector_identifier_uri that is not https to a public host', async () => {
    const base = { redirect_uris: ['https://tools.example.org/callback'], token_endpoint_auth_method: 'private_key_jwt' };
    const refused: Array<[string, Record<string, unknown>, RegExp]> = [
      ['http', { jwks_uri: 'http://tools.example.org/jwks' }, /https/],
      ['private literal', { jwks_uri: 'https://10.0.0.1/jwks' }, /private/],
      ['loopback number', { jwks_uri: 'https://2130706433/jwks' }, /loopback/],
      ['localhost', { jwks_uri: 'https://localhost/jwks' }, /loopback/],
      ['other port', { jwks_uri: 'https://tools.example.org:8443/jwks' }, /port 443/],
      ['unresolvable', { jwks_uri: 'https://no-such-host.invalid/jwks' }, /does not resolve/],
      ['sector loopback', { sector_identifier_uri: 'https://[::1]/sector' }, /sector_identifier_uri .*loopback/],
      ['sector metadata service', { sector_identifier_uri: 'https://169.254.169.254/latest' }, /link-local/],
    ];
    const recorder = recordConnections();
    try {
      for (const [what, metadata, reason] of refused) {
        const { status, body } = await register(gw.url, { ...base, ...metadata });
        assert.equal(status, 400, `${what}: ${status} ${JSON.stringify(body)}`);
        assert.equal(body.error, 'invalid_client_metadata', what);
        assert.match(String(body.error_description), reason, what);
      }
    } finally {
      recorder.stop();
    }
    const gatewayPort = new URL(gw.url).port;
    assert.deepEqual(
      recorder.seen.filter((target) => !target.endsWith(`:${gatewayPort}`)),
      [],
    );
    const accepted = await register(gw.url, { ...base, jwks_uri: 'https://8.8.8.8/jwks' });
    assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
  });
});
