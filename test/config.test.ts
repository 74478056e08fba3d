/* eslint-disable max-lines -- every config error message a person can meet, side by side to keep them consistent */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { verifyPassword } from '../src/authz/password-hash.js';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/load.js';
import { packageRoot } from '../src/paths.js';
import { testConfigJson } from './helpers/gateway.js';

const run = promisify(execFile);
const CLI = resolve(packageRoot, 'dist/src/cli/main.js');

function problemsOf(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(raw, 'test', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected the config to be refused');
}

const HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const valid = {
  publicUrl: 'https://mcp.example.com',
  login: { password: { users: [{ email: 'alice@example.com', passwordHash: HASH }] } },
  mcpServers: { everything: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'] } },
};

const google = { clientId: 'id.apps.googleusercontent.com', clientSecret: 'secret' };
const okta = { id: 'okta', label: 'Okta', issuer: 'https://acme.okta.com', clientId: 'x', clientSecret: 'y' };

describe('configuration', () => {
  it('fills defaults for a minimal file', () => {
    const config = parseConfig(valid, 'test', {});
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080 });
    assert.equal(config.storage, 'lmdb:./data');
    assert.equal(config.tokens.accessTokenTtl, 3600);
    assert.equal(config.tokens.refreshTokenTtl, 30 * 86400);
    assert.equal(config.tokens.grantTtl, 30 * 86400);
    assert.equal(config.tokens.refreshGracePeriod, 30);
    assert.deepEqual(config.tokens.clients, {});
    assert.equal(
      parseConfig({ ...valid, tokens: { clients: { claude: { accessTokenTtl: '8h' } } } }, 'test', {}).tokens.clients.claude
        ?.accessTokenTtl,
      8 * 3600,
    );
    const server = config.mcpServers.everything!;
    assert.ok('command' in server && server.isolation === 'per-user');
    assert.equal(server.clientCapabilities, undefined, "absent: the gateway's default set (MCP Apps included)");
  });

  it("keeps a server's clientCapabilities as written, extensions included", () => {
    const clientCapabilities = { roots: {}, extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } } };
    const config = parseConfig({ ...valid, mcpServers: { x: { command: 'x', isolation: 'shared', clientCapabilities } } }, 'test', {});
    const server = config.mcpServers.x!;
    assert.ok('command' in server);
    assert.deepEqual(server.clientCapabilities, clientCapabilities);
  });

  it('substitutes ${ENV} in strings and names the field when a variable is missing', () => {
    const raw = { ...valid, publicUrl: '${PUBLIC_URL}', storage: 'redis://${REDIS_HOST}:6379/0' };
    assert.equal(parseConfig(raw, 'test', { PUBLIC_URL: 'https://a.example', REDIS_HOST: 'r' }).storage, 'redis://r:6379/0');
    assert.deepEqual(problemsOf(raw, { PUBLIC_URL: 'https://a.example' }), [
      'storage: environment variable REDIS_HOST is not set (export it, or write the value in the file)',
    ]);
  });

  it('accepts upstream login with a rule, or with allowAnyone said explicitly', () => {
    const ruled = parseConfig(
      {
        ...valid,
        login: { google, oidc: [{ ...okta, groupsClaim: 'groups' }] },
        access: { allowDomains: ['Acme.com'], allowGroups: ['staff'] },
      },
      'test',
      {},
    );
    assert.equal(ruled.login.google?.issuer, 'https://accounts.google.com');
    assert.deepEqual(ruled.access.allowDomains, ['acme.com']);
    assert.deepEqual(ruled.login.oidc?.[0]?.scopes, ['openid', 'email', 'profile']);
    assert.equal(
      parseConfig({ ...valid, login: { github: { clientId: 'x', clientSecret: 'y' } }, access: { allowAnyone: true } }, 'test', {}).access
        .allowAnyone,
      true,
    );
  });

  const mistakes: Array<[string, unknown, RegExp]> = [
    ['a trailing slash on publicUrl', { ...valid, publicUrl: 'https://mcp.example.com/' }, /^publicUrl: remove the trailing slash/],
    ['a path on publicUrl', { ...valid, publicUrl: 'https://mcp.example.com/gw' }, /^publicUrl: must be an origin/],
    ['plain http to a public host', { ...valid, publicUrl: 'http://mcp.example.com' }, /^publicUrl: must use https/],
    ['no publicUrl', { ...valid, publicUrl: undefined }, /^publicUrl: is required/],
    [
      'a plain password',
      { ...valid, login: { password: { users: [{ email: 'a@example.com', passwordHash: 'hunter2' }] } } },
      /^login\.password\.users\[0\]\.passwordHash: must be a hash printed by `mcp-oauth-gateway hash-password`/,
    ],
    [
      'a bad email',
      { ...valid, login: { password: { users: [{ email: 'alice', passwordHash: HASH }] } } },
      /^login\.password\.users\[0\]\.email: must be an email address/,
    ],
    ['a misspelt field', { ...valid, mcpServer: {} }, /^\(top level\): unknown field\(s\) "mcpServer"/],
    [
      'a server without command or url',
      { ...valid, mcpServers: { x: { args: [] } } },
      /^mcpServers\.x: each server needs either "command"/,
    ],
    ['a bad server name', { ...valid, mcpServers: { 'a b': { command: 'x' } } }, /^mcpServers\.a b: server names may only use/],
    ['no servers', { ...valid, mcpServers: {} }, /^mcpServers: add at least one server/],
    [
      'a bad isolation',
      { ...valid, mcpServers: { x: { command: 'x', isolation: 'per_user' } } },
      /^mcpServers\.x\.isolation: isolation must be "per-user" \(default\), "shared" or "per-session", not "per_user"$/,
    ],
    [
      'args written as one string',
      { ...valid, mcpServers: { x: { command: 'npx', args: '-y pkg' } } },
      /^mcpServers\.x\.args: expected a list \[\.\.\.\], got a string \(write each argument as its own string: \["-y", "pkg"\]\)$/,
    ],
    [
      'a call timeout in words',
      { ...valid, mcpServers: { x: { command: 'npx', callTimeout: '2 minutes' } } },
      /^mcpServers\.x\.callTimeout: callTimeout must be a duration like "90s".*, not "2 minutes"$/,
    ],
    [
      'a call timeout of the wrong type',
      { ...valid, mcpServers: { x: { url: 'https://a.example/mcp', callTimeout: true } } },
      /^mcpServers\.x\.callTimeout: callTimeout must be a duration like "90s".*, not true$/,
    ],
    [
      'a remote server with a stdio field',
      { ...valid, mcpServers: { x: { url: 'https://a.example/mcp', cwd: '.' } } },
      /^mcpServers\.x: unknown field\(s\) "cwd"/,
    ],
    [
      'a server with both command and url',
      { ...valid, mcpServers: { x: { command: 'npx', url: 'https://a.example/mcp' } } },
      /^mcpServers\.x: has both "command" and "url"/,
    ],
    [
      'an env value that is not a string',
      { ...valid, mcpServers: { x: { command: 'npx', env: { DEBUG: 1 } } } },
      /^mcpServers\.x\.env\.DEBUG: expected a string, got a number$/,
    ],
    [
      'a quoted port',
      { ...valid, listen: { port: '18610' } },
      /^listen\.port: expected a number, got a string: write 18610 without quotes$/,
    ],
    ['a quoted boolean', { ...valid, trustProxy: 'true' }, /^trustProxy: expected true or false, got a string: write true without quotes$/],
    ['a number where a URL goes', { ...valid, publicUrl: 443 }, /^publicUrl: expected a string, got a number \(the https URL/],
    [
      'a bad duration',
      { ...valid, tokens: { accessTokenTtl: 'an hour' } },
      /^tokens\.accessTokenTtl: accessTokenTtl must be a duration like/,
    ],
    ['a bad storage', { ...valid, storage: 'mysql://x' }, /^storage: storage must be "lmdb:<directory>"/],
    ['no login method', { ...valid, login: {} }, /^login: configure at least one login method/],
    ['a port out of range', { ...valid, listen: { port: 70000 } }, /^listen\.port: /],
    [
      'Google login with no access rule',
      { ...valid, login: { google: google } },
      /^access: with Google, GitHub or OIDC login, say who may get in: .*"allowAnyone": true/,
    ],
    [
      'a missing Google secret',
      { ...valid, login: { google: { clientId: 'x' } }, access: { allowAnyone: true } },
      /^login\.google\.clientSecret: is required \(clientSecret is required/,
    ],
    [
      'an OIDC provider without issuer',
      { ...valid, login: { oidc: [{ id: 'okta', label: 'Okta', clientId: 'x', clientSecret: 'y' }] }, access: { allowAnyone: true } },
      /^login\.oidc\[0\]\.issuer: is required \(issuer must be the URL/,
    ],
    [
      'two OIDC providers with one id',
      { ...valid, login: { oidc: [okta, okta] }, access: { allowAnyone: true } },
      /^login\.oidc: two providers have the id "okta"/,
    ],
    [
      'an OIDC id that shadows a built-in',
      { ...valid, login: { oidc: [{ ...okta, id: 'google' }] }, access: { allowAnyone: true } },
      /^login\.oidc\[0\]\.id: id must not be "password", "google" or "github"/,
    ],
    [
      'a GitHub org rule without GitHub login',
      { ...valid, access: { allowGithubOrgs: ['acme'] } },
      /^access\.allowGithubOrgs: allowGithubOrgs needs login\.github/,
    ],
    [
      'a bad GitHub org',
      { ...valid, login: { github: { clientId: 'x', clientSecret: 'y' } }, access: { allowGithubOrgs: ['acme/team/extra'] } },
      /^access\.allowGithubOrgs\[0\]: must be a GitHub organization/,
    ],
    [
      'a group rule without a groups claim',
      { ...valid, login: { oidc: [okta] }, access: { allowGroups: ['staff'] } },
      /^access\.allowGroups: allowGroups needs a login\.oidc provider with "groupsClaim"/,
    ],
    [
      'an unknown client profile',
      { ...valid, tokens: { clients: { clod: { accessTokenTtl: '8h' } } } },
      /^tokens\.clients: unknown field\(s\) "clod"/,
    ],
    [
      'a bad per-client lifetime',
      { ...valid, tokens: { clients: { claude: { accessTokenTtl: 'long' } } } },
      /^tokens\.clients\.claude\.accessTokenTtl: accessTokenTtl must be a duration/,
    ],
    [
      'replicas without Redis',
      { ...valid, cluster: { advertiseUrl: 'http://10.0.0.5:8080' } },
      /^cluster: replicas share their state through Redis/,
    ],
    [
      'an unscoped group with two groups providers',
      {
        ...valid,
        login: {
          oidc: [
            { ...okta, groupsClaim: 'groups' },
            { ...okta, id: 'partner', groupsClaim: 'groups' },
          ],
        },
        access: { allowGroups: ['staff'] },
      },
      /^access\.allowGroups: several providers send groups \(okta, partner\): write "okta:staff"/,
    ],
    ['a bad domain rule', { ...valid, access: { allowDomains: ['@acme.com'] } }, /^access\.allowDomains\[0\]: must be a domain/],
    [
      'a metrics section with neither listen nor token',
      { ...valid, metrics: {} },
      /^metrics: metrics needs "listen" \(a separate admin port\) or "token"/,
    ],
    ['a short metrics token', { ...valid, metrics: { token: 'hunter2' } }, /^metrics\.token: token must be at least 16 characters/],
    [
      'a metrics port out of range',
      { ...valid, metrics: { listen: { port: 99999 } } },
      /^metrics\.listen\.port: port must be between 0 and 65535/,
    ],
    [
      'a rate limit of zero',
      { ...valid, rateLimits: { token: { limit: 0, window: '1m' } } },
      /^rateLimits\.token\.limit: limit must be at least 1 \(use false to turn this limit off\)/,
    ],
    [
      'a bad rate-limit window',
      { ...valid, rateLimits: { mcp: { limit: 100, window: 'a while' } } },
      /^rateLimits\.mcp\.window: window must be a duration like/,
    ],
    [
      'a rate limit that is neither false nor a rule',
      { ...valid, rateLimits: { login: true } },
      /^rateLimits\.login: must be false \(no limit\) or like \{ "limit": 30, "window": "15m" \}/,
    ],
    ['a misspelt rate limit', { ...valid, rateLimits: { tokens: false } }, /^rateLimits: unknown field\(s\) "tokens"/],
    [
      'client capabilities that are not an object',
      { ...valid, mcpServers: { x: { command: 'x', clientCapabilities: ['sampling'] } } },
      /^mcpServers\.x\.clientCapabilities: expected an object \{\.\.\.\}, got a list \(clientCapabilities must be an object of MCP/,
    ],
    [
      'a client capability written as true',
      { ...valid, mcpServers: { x: { command: 'x', clientCapabilities: { sampling: true } } } },
      /^mcpServers\.x\.clientCapabilities\.sampling: .*each capability must be an object of its settings \(\{\} when it has none\)/,
    ],
    [
      'an extension written as a list of MIME types',
      {
        ...valid,
        mcpServers: { x: { command: 'x', clientCapabilities: { extensions: { 'io.modelcontextprotocol/ui': ['text/html'] } } } },
      },
      /^mcpServers\.x\.clientCapabilities\.extensions\.io\.modelcontextprotocol\/ui: .*each extension must be an object of its settings/,
    ],
    [
      'client capabilities on a per-session server',
      { ...valid, mcpServers: { x: { command: 'x', isolation: 'per-session', clientCapabilities: {} } } },
      /^mcpServers\.x\.clientCapabilities: clientCapabilities applies to "shared" and "per-user" processes; a "per-session" process/,
    ],
  ];
  for (const [what, raw, expected] of mistakes) {
    it(`explains ${what}, naming the field`, () => {
      const problems = problemsOf(raw);
      assert.ok(
        problems.some((p) => expected.test(p)),
        `got: ${problems.join(' | ')}`,
      );
    });
  }
});

describe('configuration file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-file-'));

  it('refuses a key written twice, naming both lines, instead of keeping the last one', () => {
    const file = join(dir, 'twice.json');
    writeFileSync(
      file,
      [
        '{',
        '  "publicUrl": "https://mcp.example.com",',
        `  "login": ${JSON.stringify(valid.login)},`,
        '  "mcpServers": {',
        '    "docs": { "command": "npx", "args": ["-y", "docs-server"] },',
        '    "files": { "command": "npx", "env": { "A": "1", "A": "2" } },',
        '    "docs": { "url": "https://docs.example.com/mcp" }',
        '  }',
        '}',
      ].join('\n'),
    );
    const error = (() => {
      try {
        loadConfigFile(file, {});
      } catch (e) {
        return e;
      }
      assert.fail('expected a refusal');
    })();
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      'mcpServers.files.env: "A" is written twice (both on line 6); JSON would silently keep only the last one: rename or remove one',
      'mcpServers: "docs" is written twice (lines 5 and 7); JSON would silently keep only the last one: rename or remove one',
    ]);
  });

  it("resolves lmdb:./data, cwd and a command path against the config file's folder, not the shell's", () => {
    const file = join(dir, 'relative.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...valid,
        storage: 'lmdb:./data',
        mcpServers: {
          inFolder: { command: 'node', cwd: 'servers/a' },
          script: { command: './bin/server.sh' },
          fromCwd: { command: './server.sh', cwd: '/opt/srv' },
          onPath: { command: 'npx' },
        },
      }),
    );
    const config = loadConfigFile(file, {});
    assert.equal(config.storage, `lmdb:${join(dir, 'data')}`);
    const servers = config.mcpServers as Record<string, { command: string; cwd?: string }>;
    assert.deepEqual([servers.inFolder!.command, servers.inFolder!.cwd], ['node', join(dir, 'servers/a')]);
    assert.deepEqual([servers.script!.command, servers.script!.cwd], [join(dir, 'bin/server.sh'), undefined]);
    assert.deepEqual([servers.fromCwd!.command, servers.fromCwd!.cwd], ['./server.sh', '/opt/srv'], 'the system finds it from its cwd');
    assert.equal(servers.onPath!.command, 'npx');
  });
});

describe('command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));

  it('check prints a summary with the connector URLs', async () => {
    const file = join(dir, 'good.json');
    writeFileSync(file, JSON.stringify(valid));
    const { stdout } = await run(process.execPath, [CLI, 'check', '--config', file]);
    assert.match(stdout, /is valid/);
    assert.match(stdout, /https:\/\/mcp\.example\.com\/mcp\/everything/);
  });

  it('check exits 1 with one line per problem and no stack trace', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...valid, publicUrl: 'http://mcp.example.com/', tokens: { grantTtl: 'forever' } }));
    const error = await run(process.execPath, [CLI, 'check', '--config', file]).then(
      () => assert.fail('should fail'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(error.code, 1);
    assert.match(error.stderr, /publicUrl: must use https/);
    assert.match(error.stderr, /tokens\.grantTtl: grantTtl must be a duration/);
    assert.doesNotMatch(error.stderr, /\n\s+at /, 'no stack trace');
  });

  it('check explains a JSON syntax error with its line', async () => {
    const file = join(dir, 'syntax.json');
    writeFileSync(file, '{\n  "publicUrl": "https://a.example",\n  "mcpServers": {,\n}');
    const error = await run(process.execPath, [CLI, 'check', '--config', file]).then(
      () => assert.fail('should fail'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(error.code, 1);
    assert.match(error.stderr, /invalid JSON at line 3/);
  });

  it('start refuses a broken config the same way, and a missing file by name', async () => {
    const error = await run(process.execPath, [CLI, 'start', '--config', join(dir, 'missing.json')]).then(
      () => assert.fail('should fail'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(error.code, 1);
    assert.match(error.stderr, /missing\.json.*\n\s+- file not found/);
  });

  it('start explains a port that is already taken', async () => {
    const raw = await testConfigJson();
    const { createServer } = await import('node:net');
    const blocker = createServer().listen((raw.listen as { port: number }).port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const file = join(dir, 'busy.json');
    writeFileSync(file, JSON.stringify(raw));
    const error = await run(process.execPath, [CLI, 'start', '--config', file]).then(
      () => assert.fail('should fail'),
      (e: { code: number; stderr: string }) => e,
    );
    blocker.close();
    assert.equal(error.code, 1);
    assert.match(error.stderr, /already in use; change listen\.port/);
  });

  it('refuses to run on Node.js older than 22, saying so', async () => {
    const pretendNode20 =
      'data:text/javascript,Object.defineProperty(process.versions, "node", { value: "20.19.0" }); ' +
      'Object.defineProperty(process, "version", { value: "v20.19.0" });';
    const error = await run(process.execPath, ['--import', pretendNode20, CLI, 'check']).then(
      () => assert.fail('should fail'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(error.code, 1);
    assert.match(error.stderr, /^mcp-oauth-gateway needs Node\.js 22 or newer; this is v20\.19\.0\. Install Node\.js 24 LTS/);
  });

  it('hash-password reads stdin and prints a hash that verifies', async () => {
    const child = execFile(process.execPath, [CLI, 'hash-password']);
    let stdout = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stdin!.end('s3cret pass\n');
    await new Promise((r) => child.once('exit', r));
    const hash = stdout.trim();
    assert.match(hash, /^scrypt\$/);
    assert.equal(await verifyPassword('s3cret pass', hash), true);
    assert.equal(await verifyPassword('s3cret pasS', hash), false);
  });
});
