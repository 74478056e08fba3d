import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forbiddenAddressReason, ipv6Groups } from '../src/net/address-policy.js';
import { urlProblem } from '../src/net/safe-fetch.js';
import { fetchedClientUrlProblem, unresolvableClientUrlProblem } from '../src/net/client-urls.js';

const FORBIDDEN = [
  // IPv4 special-use
  '0.0.0.0',
  '0.1.2.3',
  '10.0.0.1',
  '10.255.255.255',
  '100.64.0.1',
  '100.127.255.254',
  '127.0.0.1',
  '127.255.0.1',
  '169.254.169.254',
  '172.16.0.1',
  '172.31.255.255',
  '192.0.0.8',
  '192.0.2.1',
  '192.88.99.1',
  '192.168.1.1',
  '198.18.0.1',
  '198.19.255.255',
  '198.51.100.7',
  '203.0.113.9',
  '224.0.0.1',
  '239.255.255.250',
  '240.0.0.1',
  '255.255.255.255',
  // IPv6 special-use
  '::',
  '::1',
  '0:0:0:0:0:0:0:1',
  'fc00::1',
  'fd12:3456::1',
  'fe80::1',
  'fe80::1%eth0',
  'febf::1',
  'fec0::1',
  'ff02::1',
  'ff0e::1',
  '2001:db8::1',
  '2001::1',
  '2001:2::1',
  '2001:10::1',
  '3fff::1',
  '100::1',
  '5f00::1',
  '::8.8.8.8',
  // IPv4 inside IPv6: mapped (both spellings), NAT64 well-known and local-use, 6to4
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::FFFF:10.0.0.1',
  '::ffff:a9fe:a9fe',
  '64:ff9b::127.0.0.1',
  '64:ff9b::a00:1',
  '64:ff9b::192.168.0.1',
  '64:ff9b:1::8.8.8.8',
  '2002:7f00:1::',
  '2002:c0a8:101::1',
  // not IP literals at all
  'localhost',
  '127.1',
  '2130706433',
  '',
];

const ALLOWED = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.215.14',
  '172.32.0.1',
  '100.128.0.1',
  '192.169.0.1',
  '198.20.0.1',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '2001:4860:4860::8888',
  '::ffff:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
];

describe('outbound address policy', () => {
  it('refuses every special-use form', () => {
    for (const address of FORBIDDEN) assert.ok(forbiddenAddressReason(address), `${address} must be refused`);
  });

  it('allows public unicast addresses, including public IPv4 inside IPv6', () => {
    for (const address of ALLOWED) assert.equal(forbiddenAddressReason(address), undefined, address);
  });

  it('says why', () => {
    assert.equal(forbiddenAddressReason('127.0.0.1'), 'loopback');
    assert.equal(forbiddenAddressReason('169.254.169.254'), 'link-local');
    assert.equal(forbiddenAddressReason('::ffff:10.0.0.1'), 'IPv4-mapped 10.0.0.1: private');
    assert.equal(forbiddenAddressReason('64:ff9b::a9fe:a9fe'), 'NAT64 169.254.169.254: link-local');
    assert.equal(forbiddenAddressReason('fd00::1'), 'unique local (private)');
  });

  it('expands IPv6 text forms', () => {
    assert.deepEqual(ipv6Groups('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]);
    assert.deepEqual(ipv6Groups('1::'), [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(ipv6Groups('1::2::3'), undefined);
    assert.equal(ipv6Groups('1:2:3'), undefined);
  });

  it('judges URLs as WHATWG normalises them, before any DNS', () => {
    const problem = (url: string) => urlProblem(new URL(url));
    for (const url of [
      'https://2130706433/',
      'https://127.1/',
      'https://0x7f.0.0.1/',
      'https://017700000001/',
      'https://[::ffff:127.0.0.1]/',
      'https://localhost/',
      'https://api.localhost/',
      'https://[::1]/',
      'https://169.254.169.254/latest/meta-data/',
    ]) {
      assert.ok(problem(url), `${url} must be refused`);
    }
    assert.match(problem('http://tools.example.org/')!, /https/);
    assert.match(problem('https://tools.example.org:8443/')!, /port 443/);
    assert.match(problem('https://user:pass@tools.example.org/')!, /credentials/);
    assert.equal(problem('https://tools.example.org:443/x'), undefined);
    assert.equal(problem('https://8.8.8.8/x'), undefined);
  });

  it('checks client jwks_uri and sector_identifier_uri without DNS', () => {
    assert.equal(fetchedClientUrlProblem({ jwks_uri: 'https://tools.example.org/jwks' }), undefined);
    assert.equal(fetchedClientUrlProblem({}), undefined);
    assert.match(fetchedClientUrlProblem({ jwks_uri: 'http://tools.example.org/jwks' })!, /jwks_uri must be an https URL/);
    assert.match(fetchedClientUrlProblem({ sector_identifier_uri: 'https://10.1.2.3/s' })!, /sector_identifier_uri .*private/);
    assert.match(fetchedClientUrlProblem({ jwks_uri: 42 })!, /jwks_uri must be a URL string/);
  });
});

describe('client URLs resolved at registration', () => {
  // Without the deadline this test never finishes: the name never resolves.
  it('gives up on a name whose DNS never answers, within the fetch deadline', async () => {
    const problem = await unresolvableClientUrlProblem(
      { jwks_uri: 'https://never-answers.example/jwks' },
      { timeoutMs: 200, resolve: () => new Promise(() => {}) },
    );
    assert.match(problem ?? '', /did not resolve within 0.2s/);
  });
});
