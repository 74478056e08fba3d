import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { seal, unseal, UnsealError } from '../../src/secrets/sealing.js';
import { decodeSecretsKey, readSecretsKey, SecretsKey } from '../../src/lib/secrets-key.js';

const key = new SecretsKey(randomBytes(32));
const alice = { sub: 'sub-alice', server: 'github', name: 'GITHUB_TOKEN' };

describe('sealing a secret (AES-256-GCM)', () => {
  it('opens what it sealed, with a fresh nonce every time', () => {
    const first = seal(key, alice, 'ghp_example');
    const second = seal(key, alice, 'ghp_example');
    assert.equal(unseal([key], alice, first), 'ghp_example');
    assert.notEqual(first.n, second.n);
    assert.notEqual(first.v, second.v);
    assert.equal(Buffer.from(first.n, 'base64').length, 12);
    assert.equal(first.k, key.id);
    assert.ok(!first.v.includes('ghp_example') && !Buffer.from(first.v, 'base64').toString('latin1').includes('ghp_example'));
  });

  it('refuses a value bound to another person, server or name', () => {
    const sealed = seal(key, alice, 'ghp_example');
    for (const other of [
      { ...alice, sub: 'sub-bob' },
      { ...alice, server: 'gitlab' },
      { ...alice, name: 'OTHER_TOKEN' },
    ]) {
      assert.throws(
        () => unseal([key], other, sealed),
        (error: unknown) => error instanceof UnsealError && error.reason === 'tampered' && /copied from another person/.test(error.message),
      );
    }
  });

  it('refuses an altered ciphertext, nonce or tag', () => {
    const sealed = seal(key, alice, 'ghp_example');
    const body = Buffer.from(sealed.v, 'base64');
    for (const index of [0, body.length - 1]) {
      const altered = Buffer.from(body);
      altered[index]! ^= 1;
      assert.throws(() => unseal([key], alice, { ...sealed, v: altered.toString('base64') }), /was altered/);
    }
    const nonce = Buffer.from(sealed.n, 'base64');
    nonce[0]! ^= 1;
    assert.throws(() => unseal([key], alice, { ...sealed, n: nonce.toString('base64') }), /was altered/);
    assert.throws(() => unseal([key], alice, { ...sealed, n: 'AAAA' }), /malformed/);
    assert.throws(() => unseal([key], alice, { k: sealed.k } as never), /malformed/);
  });

  it('names the key a value needs when that key is not given, and opens it with the previous key', () => {
    const newKey = new SecretsKey(randomBytes(32));
    const sealed = seal(key, alice, 'ghp_example');
    assert.throws(
      () => unseal([newKey], alice, sealed),
      (error: unknown) =>
        error instanceof UnsealError &&
        error.reason === 'unknown_key' &&
        error.message.includes(key.id) &&
        /previousSecretsKey/.test(error.message),
    );
    assert.equal(unseal([newKey, key], alice, sealed), 'ghp_example');
  });
});

describe('the secrets key', () => {
  const bytes = randomBytes(32);

  it('is read as base64, base64url (padded or not) or hex', () => {
    for (const written of [
      bytes.toString('base64'),
      bytes.toString('base64url'),
      `${bytes.toString('base64url')}=`,
      bytes.toString('hex'),
      bytes.toString('hex').toUpperCase(),
      ` ${bytes.toString('base64')}\n`,
    ]) {
      assert.deepEqual(decodeSecretsKey(written), bytes, written);
    }
  });

  it('refuses a key of the wrong length or alphabet, without repeating it', () => {
    const short = randomBytes(16).toString('base64');
    assert.throws(
      () => readSecretsKey(short),
      (error: Error) => /this one is 16 bytes/.test(error.message) && !error.message.includes(short),
    );
    assert.throws(() => readSecretsKey('not a key!'), /32 random bytes, written as base64/);
    assert.throws(() => readSecretsKey(''), /is empty/);
  });

  it('is read from a file named "file:/path"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-key-'));
    writeFileSync(join(dir, 'key'), `${bytes.toString('base64')}\n`);
    assert.deepEqual(readSecretsKey(`file:${join(dir, 'key')}`).bytes, bytes);
    assert.throws(() => readSecretsKey('file:relative/key'), /absolute path/);
    assert.throws(() => readSecretsKey(`file:${join(dir, 'missing')}`), /cannot read .*missing \(ENOENT\)/);
  });

  it('shows only its id in JSON, inspection and strings', () => {
    const shown = [JSON.stringify({ secretsKey: key }), inspect(key), String(key), `${key}`].join(' ');
    assert.ok(!shown.includes(key.bytes.toString('base64')) && !shown.includes(key.bytes.toString('hex')));
    assert.match(shown, new RegExp(key.id));
  });
});
