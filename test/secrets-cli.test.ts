import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { packageRoot } from '../src/paths.js';
import { openSecretVault } from '../src/secrets/open-vault.js';
import { SecretsKey } from '../src/lib/secrets-key.js';
import { LmdbStore } from '../src/storage/lmdb-store.js';
import { demoServerCommand, startTestGateway, testConfigJson, type TestGateway } from './helpers/gateway.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { waitFor } from './helpers/wait.js';

const CLI = resolve(packageRoot, 'dist/src/cli/main.js');
const HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const TOKEN = `ghp_${randomBytes(10).toString('hex')}`;
const servers = {
  github: { ...demoServerCommand, secrets: { GITHUB_TOKEN: { label: 'GitHub token', pattern: '^gh[pousr]_', required: true } } },
  db: { url: 'https://db.example.com/mcp', secrets: { DB_PASSWORD: {} } },
};

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a person would, with `stdin` piped in. */
function cli(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolvePromise) => child.once('close', (code) => resolvePromise({ code, stdout, stderr })));
}

function problemsOf(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(
      { publicUrl: 'https://mcp.example.com', login: { password: { users: [{ email: 'a@example.com', passwordHash: HASH }] } }, ...raw },
      'test',
      env,
    );
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected the config to be refused');
}

describe('secrets in the config', () => {
  it('refuses a bad secret name, an invalid pattern and an unknown field, naming each', () => {
    assert.deepEqual(
      problemsOf({
        mcpServers: {
          a: {
            command: 'node',
            secrets: { 'bad-name': {}, OK: { pattern: '^(unclosed' }, ALSO: { lable: 'x' }, LIST: { scopes: 'repo' } },
          },
        },
      }),
      [
        'mcpServers.a.secrets.bad-name: secret names are written like environment variable names: ' +
          'letters, digits and "_", not starting with a digit',
        'mcpServers.a.secrets.OK.pattern: pattern is not a valid regular expression: ' +
          'Invalid regular expression: /^(unclosed/: Unterminated group',
        'mcpServers.a.secrets.ALSO: unknown field(s) "lable": check the spelling against the README',
        'mcpServers.a.secrets.LIST.scopes: expected a list [...], got a string (scopes must be a list of strings)',
      ],
    );
  });

  it('accepts secrets on stdio and url servers, with the reserved connect and scopes', () => {
    const config = parseConfig(
      {
        publicUrl: 'https://mcp.example.com',
        login: { password: { users: [{ email: 'a@example.com', passwordHash: HASH }] } },
        mcpServers: { ...servers, gh: { command: 'x', secrets: { T: { connect: 'github', scopes: ['repo'] } } } },
      },
      'test',
      {},
    );
    assert.deepEqual(config.mcpServers.github!.secrets.GITHUB_TOKEN, { label: 'GitHub token', pattern: '^gh[pousr]_', required: true });
    assert.deepEqual(config.mcpServers.db!.secrets.DB_PASSWORD, { required: false });
    assert.deepEqual(config.mcpServers.gh!.secrets.T, { connect: 'github', scopes: ['repo'], required: false });
  });

  it('reads secretsKey from the environment or a file, and refuses a wrong length without repeating the key', () => {
    const key = randomBytes(32);
    const fromEnv = parseConfig(
      {
        publicUrl: 'https://mcp.example.com',
        login: { password: { users: [{ email: 'a@example.com', passwordHash: HASH }] } },
        mcpServers: servers,
        secretsKey: '${GATEWAY_SECRETS_KEY}',
      },
      'test',
      { GATEWAY_SECRETS_KEY: key.toString('base64') },
    );
    assert.deepEqual(fromEnv.secretsKey?.bytes, key);
    const file = join(mkdtempSync(join(tmpdir(), 'gw-key-')), 'key');
    writeFileSync(file, key.toString('hex'));
    assert.deepEqual(problemsOf({ mcpServers: servers, secretsKey: `file:${file}`, previousSecretsKey: 'short' }), [
      'previousSecretsKey: must be 32 bytes, written as base64 (44 characters) or hex (64 characters); ' +
        'this one is 3 bytes (generate one with `openssl rand -base64 32`)',
    ]);
    const short = randomBytes(24).toString('base64');
    const problems = problemsOf({ mcpServers: servers, secretsKey: short });
    assert.match(problems[0]!, /^secretsKey: must be 32 bytes, .* this one is 24 bytes/);
    assert.ok(!problems[0]!.includes(short));
    assert.deepEqual(problemsOf({ mcpServers: servers, previousSecretsKey: key.toString('base64') }), [
      'previousSecretsKey: previousSecretsKey needs secretsKey (the new key the values move to)',
    ]);
  });
});

describe('the secrets commands, end to end', () => {
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'gw-secrets-cli-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'gateway.json');
  let base: Record<string, unknown>;
  const writeConfig = (extra: Record<string, unknown>) =>
    writeFileSync(configFile, JSON.stringify({ ...base, storage: `lmdb:${dataDir}`, mcpServers: servers, ...extra }));
  before(async () => {
    base = await testConfigJson();
    writeConfig({ secretsKey: '${GATEWAY_SECRETS_KEY}' });
  });
  const env = { GATEWAY_SECRETS_KEY: oldKey };

  it('sets a secret read from stdin and lists it without its value', async () => {
    const set = await cli(['secrets', 'set', '--config', configFile, '--user', 'alice@example.com', '--server', 'github', 'GITHUB_TOKEN'], {
      stdin: `${TOKEN}\n`,
      env,
    });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^stored GITHUB_TOKEN for alice@example\.com \(sub [0-9a-f-]+\) on server github\n$/);
    const list = await cli(['secrets', 'list', '--config', configFile, '--user', 'alice@example.com', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { email: string; secrets: Array<{ server: string; name: string; updatedAt: string | null }> };
    assert.equal(listed.email, 'alice@example.com');
    assert.deepEqual(
      listed.secrets.map((row) => [row.server, row.name, row.updatedAt !== null]),
      [
        ['github', 'GITHUB_TOKEN', true],
        ['db', 'DB_PASSWORD', false],
      ],
    );
    const text = await cli(['secrets', 'list', '--config', configFile, '--user', 'alice@example.com', '--server', 'github'], { env });
    assert.match(text.stdout, /github {2}GITHUB_TOKEN {2}set \d{4}-\d\d-\d\dT/);
    for (const output of [set, list, text]) assert.ok(!`${output.stdout}${output.stderr}`.includes(TOKEN));
    // The value was stored without its trailing newline.
    const store = new LmdbStore(dataDir);
    const vault = await openSecretVault(parseConfig(JSON.parse(readFileSync(configFile, 'utf8')), 'test', env), store);
    const sub = (JSON.parse(list.stdout) as { sub: string }).sub;
    assert.equal(await vault.get(sub, 'github', 'GITHUB_TOKEN'), TOKEN);
    await vault.close();
    await store.close();
  });

  it('explains a value that does not match, an undeclared name and an unknown person', async () => {
    const wrong = await cli(
      ['secrets', 'set', '--config', configFile, '--user', 'alice@example.com', '--server', 'github', 'GITHUB_TOKEN'],
      {
        stdin: 'not-a-token',
        env,
      },
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /secrets: GITHUB_TOKEN of server "github" must match the pattern \^gh\[pousr\]_/);
    const undeclared = await cli(['secrets', 'set', '--config', configFile, '--user', 'alice@example.com', '--server', 'github', 'NOPE'], {
      stdin: 'x',
      env,
    });
    assert.match(undeclared.stderr, /server "github" declares no secret NOPE \(it declares GITHUB_TOKEN\)/);
    const nobody = await cli(['secrets', 'list', '--config', configFile, '--user', 'carol@example.com'], { env });
    assert.match(nobody.stderr, /no account for carol@example\.com/);
  });

  it('refuses to start without secretsKey while secrets are stored, saying why', async () => {
    writeConfig({});
    const refused = await cli(['start', '--config', configFile]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /secretsKey: secrets are stored but no "secretsKey" is configured: set it to the key they were encrypted with/,
    );
    const setWithout = await cli(
      ['secrets', 'set', '--config', configFile, '--user', 'alice@example.com', '--server', 'db', 'DB_PASSWORD'],
      {
        stdin: 'x',
      },
    );
    assert.equal(setWithout.code, 1);
    assert.match(setWithout.stderr, /secrets are stored but no "secretsKey" is configured/);
  });

  it('rotate-secrets-key re-encrypts under the new key; the old key is then not needed', async () => {
    writeConfig({ secretsKey: newKey });
    const without = await cli(['rotate-secrets-key', '--config', configFile]);
    assert.equal(without.code, 1);
    assert.match(without.stderr, /were encrypted under key [0-9a-f]{16}, not under the configured secretsKey/);
    const rotated = await cli(['rotate-secrets-key', '--config', configFile], { env: { GATEWAY_OLD_SECRETS_KEY: oldKey } });
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /^re-encrypted 1 secret\(s\) under key [0-9a-f]{16}\. The old key is no longer needed/);
    const list = await cli(['secrets', 'list', '--config', configFile, '--user', 'alice@example.com', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const store = new LmdbStore(dataDir);
    const vault = await openSecretVault({ mcpServers: servers as never, secretsKey: new SecretsKey(Buffer.from(newKey, 'hex')) }, store);
    assert.equal(await vault.get((JSON.parse(list.stdout) as { sub: string }).sub, 'github', 'GITHUB_TOKEN'), TOKEN);
    await vault.close();
    await store.close();
    // And back, with the old key in a file.
    const keyFile = join(dir, 'new.key');
    writeFileSync(keyFile, newKey);
    writeConfig({ secretsKey: '${GATEWAY_SECRETS_KEY}' });
    const back = await cli(['rotate-secrets-key', '--config', configFile, '--old-key-file', keyFile], { env });
    assert.match(back.stdout, /^re-encrypted 1 secret\(s\)/, back.stderr);
  });
});

describe('the secrets commands beside a running gateway on Redis', () => {
  let redis: TestRedis;
  let gateway: TestGateway;
  const key = randomBytes(32).toString('base64');
  const configFile = join(mkdtempSync(join(tmpdir(), 'gw-secrets-redis-')), 'gateway.json');
  before(async () => {
    redis = await startRedis();
    gateway = await startTestGateway({ storage: redis.url, mcpServers: servers, secretsKey: key });
    writeFileSync(configFile, JSON.stringify({ ...(await testConfigJson()), storage: redis.url, mcpServers: servers, secretsKey: key }));
  });
  after(async () => {
    await gateway?.close();
    await redis?.stop();
  });

  it('the running gateway hears of a secret the CLI sets, and reads it', async () => {
    const heard: string[] = [];
    gateway.running.gateway.secrets.onChange((sub, server) => heard.push(`${sub}/${server}`));
    await gateway.running.gateway.secrets.listening();
    const set = await cli(['secrets', 'set', '-c', configFile, '-u', 'bob@example.com', '-s', 'db', 'DB_PASSWORD'], {
      stdin: 'pa55word\n',
    });
    assert.equal(set.code, 0, set.stderr);
    const sub = /\(sub ([^)]+)\)/.exec(set.stdout)![1]!;
    await waitFor(() => heard.length > 0, { message: 'the gateway to hear of the change' });
    assert.deepEqual(heard, [`${sub}/db`]);
    assert.equal(await gateway.running.gateway.secrets.get(sub, 'db', 'DB_PASSWORD'), 'pa55word');
  });

  it('audits a change made through the gateway by name, never by value', async () => {
    const { secrets } = gateway.running.gateway;
    await secrets.set('sub-carol', 'github', 'GITHUB_TOKEN', TOKEN);
    await secrets.delete('sub-carol', 'github', 'GITHUB_TOKEN');
    const events = gateway.logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.audit);
    assert.deepEqual(
      events.filter((line) => String(line.event).startsWith('secret.')).map((line) => [line.event, line.sub, line.server, line.name]),
      [
        ['secret.set', 'sub-carol', 'github', 'GITHUB_TOKEN'],
        ['secret.deleted', 'sub-carol', 'github', 'GITHUB_TOKEN'],
      ],
    );
    assert.ok(!gateway.logs.lines.some((line) => line.includes(TOKEN) || line.includes(key)));
  });

  it("check names the key by its id, never the key, and lists each server's secrets", async () => {
    const checked = await cli(['check', '--config', configFile]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /secrets: +encrypted under secretsKey [0-9a-f]{16}\n/);
    assert.match(checked.stdout, /each person's secrets: GITHUB_TOKEN \(required\)/);
    assert.ok(!checked.stdout.includes(key));
  });
});

describe('the secrets commands beside a running gateway on LMDB', () => {
  let gateway: TestGateway;
  const key = randomBytes(32).toString('base64');
  const configFile = join(mkdtempSync(join(tmpdir(), 'gw-secrets-lmdb-')), 'gateway.json');
  before(async () => {
    gateway = await startTestGateway({ mcpServers: servers, secretsKey: key });
    writeFileSync(
      configFile,
      JSON.stringify({ ...(await testConfigJson()), storage: gateway.config.storage, mcpServers: servers, secretsKey: key }),
    );
  });
  after(async () => {
    await gateway?.close();
  });

  it('a secret the CLI sets is read by the running gateway at its next use', async () => {
    const set = await cli(['secrets', 'set', '-c', configFile, '-u', 'alice@example.com', '-s', 'github', 'GITHUB_TOKEN'], {
      stdin: TOKEN,
    });
    assert.equal(set.code, 0, set.stderr);
    const sub = /\(sub ([^)]+)\)/.exec(set.stdout)![1]!;
    assert.equal(await gateway.running.gateway.secrets.get(sub, 'github', 'GITHUB_TOKEN'), TOKEN);
    await gateway.running.gateway.secrets.delete(sub, 'github', 'GITHUB_TOKEN');
    const list = await cli(['secrets', 'list', '-c', configFile, '-u', 'alice@example.com', '--json']);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { secrets: Array<{ updatedAt: string | null }> }).secrets.map((row) => row.updatedAt),
      [null, null],
    );
  });
});
