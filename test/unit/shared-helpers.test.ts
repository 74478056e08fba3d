import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { sameSecret, sha256Text } from '../../src/lib/same-secret.js';
import { unverifiedJwtClaims } from '../../src/lib/unverified-jwt.js';
import { isLoopbackHost, isLoopbackHttp } from '../../src/net/loopback.js';
import { clientIp } from '../../src/web/client-address.js';

describe('loopback: one rule for config, redirect URIs and upstream issuers', () => {
  it('accepts localhost, [::1] and all of 127/8; nothing else', () => {
    for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '[::1]']) assert.ok(isLoopbackHost(host), host);
    for (const host of ['example.com', '128.0.0.1', '10.0.0.1', 'localhost.example.com', '127.0.0.1.nip.io'])
      assert.ok(!isLoopbackHost(host), host);
  });

  it('isLoopbackHttp: http to a loopback host only (the upstream check that used to refuse 127.0.0.2)', () => {
    assert.ok(isLoopbackHttp('http://127.0.0.2:9000/issuer'));
    assert.ok(isLoopbackHttp('http://[::1]:9000'));
    assert.ok(!isLoopbackHttp('https://127.0.0.1'));
    assert.ok(!isLoopbackHttp('http://idp.example.com'));
  });
});

describe('secrets and unverified tokens', () => {
  it('sameSecret compares whatever the lengths', () => {
    assert.ok(sameSecret('s3cret', 's3cret'));
    assert.ok(!sameSecret('s3cret', 's3cret!'));
    assert.ok(!sameSecret('', 'x'));
    assert.equal(sha256Text('a').length, 43);
  });

  it('unverifiedJwtClaims reads a payload, and nothing from what is not a JWT', () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'u1', aud: 'https://gw.example/mcp/demo' })).toString('base64url');
    assert.deepEqual(unverifiedJwtClaims(`e30.${payload}.sig`), { sub: 'u1', aud: 'https://gw.example/mcp/demo' });
    assert.equal(unverifiedJwtClaims(undefined), undefined);
    assert.equal(unverifiedJwtClaims('opaque-token'), undefined);
    assert.equal(unverifiedJwtClaims(`e30.${Buffer.from('[1]').toString('base64url')}.x`), undefined);
    assert.equal(unverifiedJwtClaims(`e30.${'A'.repeat(9000)}.x`), undefined);
  });
});

describe('client address', () => {
  const request = (remoteAddress: string, forwardedFor?: string) =>
    ({ socket: { remoteAddress }, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} }) as unknown as IncomingMessage;

  it('is the socket address unless trustProxy, then the nearest hop that is not a trusted proxy', () => {
    assert.equal(clientIp(request('127.0.0.1', '203.0.113.9'), false), '127.0.0.1');
    assert.equal(clientIp(request('127.0.0.1', '203.0.113.9'), true), '203.0.113.9');
    assert.equal(clientIp(request('::ffff:10.0.0.2', '198.51.100.1, 203.0.113.9, 10.0.0.3'), true), '203.0.113.9');
    assert.equal(clientIp(request('203.0.113.50', '198.51.100.1'), true), '203.0.113.50', 'a public peer is not a trusted proxy');
  });
});
