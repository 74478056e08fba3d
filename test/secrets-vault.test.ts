import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { openSecretVault, type VaultConfig } from '../src/secrets/open-vault.js';
import { SecretsKey } from '../src/lib/secrets-key.js';
import { secretRecordKey, type SecretVault, type StoredSecret } from '../src/secrets/vault.js';
import { LmdbStore } from '../src/storage/lmdb-store.js';
import { RedisStore } from '../src/storage/redis-store.js';
import type { KeyValueStore } from '../src/storage/store.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { waitFor } from './helpers/wait.js';

const ALICE = 'sub-alice-0001';
const BOB = 'sub-bob-0002';
// Distinctive plaintexts, looked for in the raw store.
const GITHUB_VALUE = `ghp_${randomBytes(12).toString('hex')}PLAINTEXT`;
const DB_VALUE = `db-password-${randomBytes(12).toString('hex')}`;

const declared = {
  github: { secrets: { GITHUB_TOKEN: { label: 'GitHub token', pattern: '^gh[pousr]_', required: true } } },
  db: { secrets: { DB_PASSWORD: { required: false }, DB_USER: {} } },
  plain: { secrets: {} },
};
const config = (key?: SecretsKey, previousKey?: SecretsKey): VaultConfig => ({
  mcpServers: declared,
  secretsKey: key,
  previousSecretsKey: previousKey,
});

/** The suite both stores pass; `raw` is every byte the store holds, read around the store's API. */
function vaultSuite(name: string, open: () => Promise<KeyValueStore>, raw: () => Promise<string>) {
  describe(`the secrets vault on ${name}`, () => {
    const key = new SecretsKey(randomBytes(32));
    let store: KeyValueStore;
    let vault: SecretVault;
    before(async () => {
      store = await open();
      vault = await openSecretVault(config(key), store);
    });
    after(async () => {
      await vault.close();
      await store.close();
    });

    it('stores, lists and reads a value, and deletes it', async () => {
      await vault.set(ALICE, 'github', 'GITHUB_TOKEN', GITHUB_VALUE);
      await vault.set(ALICE, 'db', 'DB_PASSWORD', DB_VALUE);
      await vault.set(BOB, 'db', 'DB_USER', 'bob');
      assert.equal(await vault.get(ALICE, 'github', 'GITHUB_TOKEN'), GITHUB_VALUE);
      assert.equal(await vault.get(BOB, 'github', 'GITHUB_TOKEN'), undefined);
      assert.deepEqual(
        (await vault.list(ALICE, 'db')).map((entry) => entry.name),
        ['DB_PASSWORD'],
      );
      assert.ok((await vault.list(ALICE, 'github'))[0]!.updatedAt > Date.now() - 60_000);
      await vault.delete(BOB, 'db', 'DB_USER');
      assert.equal(await vault.get(BOB, 'db', 'DB_USER'), undefined);
      assert.deepEqual(await vault.list(BOB, 'db'), []);
    });

    it('holds only ciphertext: the raw store has no plaintext value', async () => {
      const bytes = await raw();
      // The records are there (their owners are stored in clear) ...
      assert.ok(bytes.includes(ALICE) && bytes.includes('GITHUB_TOKEN'), 'the raw read sees the records');
      // ... their values are not.
      assert.ok(!bytes.includes(GITHUB_VALUE), 'no GitHub token in clear');
      assert.ok(!bytes.includes(DB_VALUE), 'no database password in clear');
      assert.ok(!bytes.includes(key.bytes.toString('base64')) && !bytes.includes(key.bytes.toString('hex')), 'no key');
    });

    it('refuses a value that is not declared, does not match its pattern, is empty or too large', async () => {
      await assert.rejects(
        vault.set(ALICE, 'github', 'OTHER', 'x'),
        /server "github" declares no secret OTHER \(it declares GITHUB_TOKEN\)/,
      );
      await assert.rejects(vault.set(ALICE, 'plain', 'X', 'x'), /server "plain" declares no secret X/);
      await assert.rejects(vault.set(ALICE, 'nowhere', 'X', 'x'), /server "nowhere" declares no secrets/);
      await assert.rejects(
        vault.set(ALICE, 'github', 'GITHUB_TOKEN', 'not-a-token'),
        (error: Error) =>
          /GITHUB_TOKEN of server "github" must match the pattern \^gh\[pousr\]_/.test(error.message) &&
          !error.message.includes('not-a-token'),
      );
      await assert.rejects(vault.set(ALICE, 'db', 'DB_USER', ''), /DB_USER is empty/);
      await assert.rejects(
        vault.set(ALICE, 'db', 'DB_USER', 'x'.repeat(8193)),
        /DB_USER is 8193 bytes; a secret may be at most 8192 bytes/,
      );
      assert.equal(await vault.get(ALICE, 'github', 'GITHUB_TOKEN'), GITHUB_VALUE);
    });

    it("refuses a tampered ciphertext, and a value copied into another person's, server's or name's record", async () => {
      const original = (await store.get<StoredSecret>(secretRecordKey(ALICE, 'db', 'DB_PASSWORD')))!;
      const body = Buffer.from(original.v, 'base64');
      body[3]! ^= 0x20;
      await store.set(secretRecordKey(ALICE, 'db', 'DB_PASSWORD'), { ...original, v: body.toString('base64') });
      await assert.rejects(
        vault.get(ALICE, 'db', 'DB_PASSWORD'),
        /DB_PASSWORD of server db .* cannot be decrypted: the stored value was altered/,
      );
      await store.set(secretRecordKey(ALICE, 'db', 'DB_PASSWORD'), original);
      assert.equal(await vault.get(ALICE, 'db', 'DB_PASSWORD'), DB_VALUE);

      // Bob's record, holding Alice's sealed value (as an attacker with write access to the store would place it).
      await store.set(secretRecordKey(BOB, 'db', 'DB_PASSWORD'), { ...original, sub: BOB });
      await assert.rejects(vault.get(BOB, 'db', 'DB_PASSWORD'), /copied from another person, server or secret name/);
      await store.set(secretRecordKey(ALICE, 'db', 'DB_USER'), { ...original, name: 'DB_USER' });
      await assert.rejects(vault.get(ALICE, 'db', 'DB_USER'), /copied from another person/);
      await store.delete(secretRecordKey(BOB, 'db', 'DB_PASSWORD'));
      await store.delete(secretRecordKey(ALICE, 'db', 'DB_USER'));
    });

    it('tells listeners of every set and delete', async () => {
      const heard: string[] = [];
      const stop = vault.onChange((sub, server) => heard.push(`${sub}/${server}`));
      await vault.set(BOB, 'db', 'DB_USER', 'bob');
      await vault.delete(BOB, 'db', 'DB_USER');
      await vault.delete(BOB, 'db', 'DB_USER'); // nothing to delete: nothing changed
      stop();
      await vault.set(BOB, 'db', 'DB_USER', 'bob again');
      assert.deepEqual(heard, [`${BOB}/db`, `${BOB}/db`]);
    });

    it('rotates to a new key: every value stays readable and the old key is no longer needed', async () => {
      const newKey = new SecretsKey(randomBytes(32));
      // Only the new key: the stored values were sealed under another one.
      await assert.rejects(
        openSecretVault(config(newKey), store),
        new RegExp(`encrypted under key ${key.id}, not under the configured secretsKey \\(${newKey.id}\\)`),
      );
      const rotating = await openSecretVault(config(newKey, key), store);
      assert.equal(await rotating.get(ALICE, 'github', 'GITHUB_TOKEN'), GITHUB_VALUE);
      // An altered value is reported and left alone; the others move.
      const altered = secretRecordKey(BOB, 'db', 'DB_PASSWORD');
      const bobUser = (await store.get<StoredSecret>(secretRecordKey(BOB, 'db', 'DB_USER')))!;
      await store.set(altered, { ...bobUser, name: 'DB_PASSWORD' });
      await store.addToIndex('secrets:index', altered);
      const first = await rotating.rotate();
      assert.deepEqual([first.rotated, first.unchanged], [3, 0]);
      assert.equal(first.unreadable.length, 1);
      assert.match(
        first.unreadable[0]!,
        /DB_PASSWORD of server db \(person sub-bob-0002\) cannot be decrypted: the stored value was altered/,
      );
      await store.delete(altered);
      assert.deepEqual(await rotating.rotate(), { rotated: 0, unchanged: 3, unreadable: [] });
      await rotating.close();

      const rotated = await openSecretVault(config(newKey), store);
      assert.equal(await rotated.get(ALICE, 'github', 'GITHUB_TOKEN'), GITHUB_VALUE);
      assert.equal(await rotated.get(ALICE, 'db', 'DB_PASSWORD'), DB_VALUE);
      assert.equal(await rotated.get(BOB, 'db', 'DB_USER'), 'bob again');
      await rotated.close();
      // The old key alone no longer opens them.
      await assert.rejects(openSecretVault(config(key), store), /not under the configured secretsKey/);
      assert.ok(!(await raw()).includes(GITHUB_VALUE));
    });

    it('refuses to open without a key while secrets are stored, and opens empty without one', async () => {
      await assert.rejects(openSecretVault(config(), store), /secrets are stored but no "secretsKey" is configured/);
      const empty = await open();
      try {
        const keyless = await openSecretVault(config(), empty);
        assert.equal(keyless.available, false);
        assert.equal(await keyless.get(ALICE, 'db', 'DB_USER'), undefined);
        await assert.rejects(
          keyless.set(ALICE, 'db', 'DB_USER', 'x'),
          /cannot store DB_USER: the secrets vault needs "secretsKey" in the config/,
        );
      } finally {
        await empty.close();
      }
    });
  });
}

const lmdbDirs: string[] = [];
vaultSuite(
  'LMDB',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-vault-'));
    lmdbDirs.push(dir);
    return new LmdbStore(dir);
  },
  async () => readFileSync(join(lmdbDirs[0]!, 'data.mdb')).toString('latin1'),
);

let redis: TestRedis;
let redisDb = 0;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});
vaultSuite(
  'Redis',
  async () => new RedisStore(redis.url.replace(/\/0$/, `/${redisDb++}`)),
  async () => {
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('*');
      const values = await Promise.all(
        keys.map(async (key) => ((await client.type(key)) === 'set' ? (await client.smembers(key)).join(' ') : await client.get(key))),
      );
      return [...keys, ...values].join('\n');
    } finally {
      client.disconnect();
    }
  },
);

describe('the secrets vault across Redis replicas', () => {
  it('tells the listeners of every replica when one of them changes a secret', async () => {
    const key = new SecretsKey(randomBytes(32));
    const stores = [new RedisStore(redis.url.replace(/\/0$/, '/9')), new RedisStore(redis.url.replace(/\/0$/, '/9'))];
    const [first, second] = await Promise.all(stores.map((store) => openSecretVault(config(key), store)));
    try {
      const heard: string[] = [];
      second!.onChange((sub, server) => heard.push(`${sub}/${server}`));
      await second!.listening();
      await first!.set(ALICE, 'db', 'DB_USER', 'alice');
      await waitFor(() => heard.length > 0, { message: 'the second replica to hear the first one change a secret' });
      assert.equal(heard[0], `${ALICE}/db`);
      assert.equal(await second!.get(ALICE, 'db', 'DB_USER'), 'alice');
    } finally {
      await Promise.all([first!.close(), second!.close()]);
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
