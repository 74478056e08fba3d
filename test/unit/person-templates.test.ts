import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig, personalDataRoot, resolveRelativePaths } from '../../src/config/load.js';
import { expandPersonTemplates, secretsOfProcess, serverTemplateProblems } from '../../src/config/person-templates.js';
import type { StdioServerConfig } from '../../src/config/schema.js';
import { fillSecretArguments, hideSecretArguments } from '../../src/mcp/process/secret-arguments.js';
import { personalFolder, personalSpec } from '../../src/mcp/process/personal-spec.js';

const base = {
  publicUrl: 'https://mcp.example.com',
  login: { password: { users: [{ email: 'a@example.com', passwordHash: 'scrypt$x' }] } },
};

/** The config problems for one stdio server written as given. */
function problemsOf(server: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig({ ...base, mcpServers: { notes: server } }, 'test', env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('per-person templates in the config', () => {
  it('survive the load-time ${VAR} substitution untouched, beside a substituted variable', () => {
    const config = parseConfig(
      {
        ...base,
        mcpServers: {
          notes: {
            command: 'node',
            args: ['server.js', '${user.dataDir}', '--who=${user.email}'],
            env: { MEMORY_FILE_PATH: '${user.dataDir}/memory.json', TOKEN: '${secret.API_TOKEN}', REGION: '${REGION}' },
            secrets: { API_TOKEN: { label: 'API token', required: true } },
          },
        },
      },
      'test',
      { REGION: 'eu-west' },
    );
    const server = config.mcpServers.notes as StdioServerConfig;
    assert.deepEqual(server.args, ['server.js', '${user.dataDir}', '--who=${user.email}']);
    assert.deepEqual(server.env, { MEMORY_FILE_PATH: '${user.dataDir}/memory.json', TOKEN: '${secret.API_TOKEN}', REGION: 'eu-west' });
  });

  it('refuses a person template on a shared server, naming the field and saying why', () => {
    const problems = problemsOf({ command: 'node', isolation: 'shared', env: { MEMORY_FILE_PATH: '${user.dataDir}/memory.json' } });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^mcpServers\.notes\.env\.MEMORY_FILE_PATH: \$\{user\.dataDir\} names a person, but isolation is "shared"/);
    assert.match(problems[0]!, /one process serves everyone/);
    const inArgs = problemsOf({
      command: 'node',
      isolation: 'shared',
      args: ['x', '${secret.KEY}'],
      secrets: { KEY: {} },
    });
    assert.match(inArgs[0]!, /^mcpServers\.notes\.args\[1\]: .*secretArguments/);
  });

  it('refuses an unknown ${user.x} and a secret the server does not declare', () => {
    const problems = problemsOf({ command: 'node', args: ['${user.password}'], env: { T: '${secret.GITHUB_TOKEN}' } });
    assert.equal(problems.length, 2);
    assert.match(problems[1]!, /^mcpServers\.notes\.args\[0\]: \$\{user\.password\} is not a person template: use \$\{user\.sub\}/);
    assert.match(problems[0]!, /^mcpServers\.notes\.env\.T: \$\{secret\.GITHUB_TOKEN\} names a secret the server does not declare/);
  });

  it('lets secretArguments name the caller on a shared server, but checks their secrets are declared', () => {
    assert.deepEqual(
      problemsOf({
        command: 'node',
        isolation: 'shared',
        secrets: { API_KEY: { required: true } },
        secretArguments: { search: { apiKey: '${secret.API_KEY}' } },
      }),
      [],
    );
    const undeclared = problemsOf({ command: 'node', isolation: 'shared', secretArguments: { search: { apiKey: '${secret.API_KEY}' } } });
    assert.match(undeclared[0]!, /^mcpServers\.notes\.secretArguments\.search\.apiKey: \$\{secret\.API_KEY\} names a secret/);
  });

  it('refuses ${user.dataDir} in a remote server header, which has no folder, and a bad secret declaration', () => {
    assert.deepEqual(serverTemplateProblems({ kind: 'remote', headers: { 'X-Who': '${user.email}' } }), []);
    const problems = serverTemplateProblems({ kind: 'remote', headers: { 'X-Dir': '${user.dataDir}' } });
    assert.match(problems[0]!.message, /a remote \("url"\) server has none/);
    const bad = problemsOf({ command: 'node', secrets: { 'bad-name': {}, OK: { pattern: '(' } } });
    assert.ok(bad.some((problem) => /secret names are written like environment variable names/.test(problem)));
    assert.ok(bad.some((problem) => /^mcpServers\.notes\.secrets\.OK\.pattern: pattern is not a valid regular expression/.test(problem)));
  });
});

describe("where each person's folders go", () => {
  it('keeps a templated cwd for expansion and resolves personalDataDir from the config file, default beside the store', () => {
    const parsed = parseConfig({
      ...base,
      storage: 'lmdb:./data',
      mcpServers: { notes: { command: 'node', cwd: '${user.dataDir}' } },
    });
    const resolved = resolveRelativePaths(parsed, '/etc/gateway');
    assert.equal((resolved.mcpServers.notes as StdioServerConfig).cwd, '${user.dataDir}');
    assert.equal(personalDataRoot(resolved), '/etc/gateway/data/people');
    assert.equal(personalDataRoot(resolveRelativePaths({ ...parsed, personalDataDir: './people' }, '/etc/gateway')), '/etc/gateway/people');
    const onRedis = resolveRelativePaths({ ...parsed, storage: 'redis://127.0.0.1:6379' }, '/etc/gateway');
    assert.equal(personalDataRoot(onRedis), '/etc/gateway/people-data');
  });
});

describe('expanding templates for one person', () => {
  it('gives each template its value, unknown values as "", and never interprets the rest', () => {
    const person = { sub: 's-1', email: 'a@example.com', dataDir: '/data/x', secrets: { KEY: 'k$(rm -rf /);`x`' } };
    assert.equal(expandPersonTemplates('${user.dataDir}/memory.json', person), '/data/x/memory.json');
    assert.equal(expandPersonTemplates('--key=${secret.KEY}', person), '--key=k$(rm -rf /);`x`');
    assert.equal(expandPersonTemplates('${user.name}|${secret.OTHER}|$HOME', person), '||$HOME');
    assert.deepEqual([...secretsOfProcess({ env: { A: '${secret.A}' }, args: ['${secret.B}', '${user.sub}'] })], ['A', 'B']);
  });

  it('starts a person process with its own HOME, TMPDIR and data folder (0700, named by a hash)', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'gw-personal-')), 'people');
    const server = parseConfig({
      ...base,
      mcpServers: {
        notes: { command: 'node', args: ['${user.dataDir}'], env: { WHO: '${user.email}', T: '${secret.T}' }, secrets: { T: {} } },
      },
    }).mcpServers.notes as StdioServerConfig;
    const sub = '../../etc/evil';
    const deps = { dataRoot: root, person: async () => ({ email: 'a@example.com' }), accountUrl: () => '' };
    const spec = await personalSpec(deps, 'notes', server, sub);
    const folder = personalFolder(root, 'notes', sub);
    assert.match(folder, new RegExp(`^${root}/notes/[0-9a-f]{32}$`));
    assert.deepEqual(spec.args, [join(folder, 'data')]);
    assert.equal(spec.env.HOME, join(folder, 'home'));
    assert.equal(spec.env.TMPDIR, join(folder, 'tmp'));
    assert.equal(spec.env.WHO, 'a@example.com');
    assert.equal(spec.env.T, '', 'no secret source: an unset secret is empty');
    for (const path of [root, join(root, 'notes'), folder, spec.env.HOME!, spec.env.TMPDIR!, spec.args[0]!])
      assert.equal(statSync(path).mode & 0o777, 0o700, path);
    assert.notEqual(personalFolder(root, 'notes', 'bob'), folder);
    assert.notEqual(personalFolder(root, 'other', sub), folder);
  });
});

describe('secretArguments', () => {
  const secretArguments = { search: { apiKey: '${secret.API_KEY}' } };

  it('removes the argument from the tool schema the client sees, in properties and required', () => {
    const listed = {
      tools: [
        {
          name: 'search',
          inputSchema: {
            type: 'object',
            properties: { query: { type: 'string' }, apiKey: { type: 'string' } },
            required: ['query', 'apiKey'],
          },
        },
        { name: 'other', inputSchema: { type: 'object', properties: { apiKey: { type: 'string' } }, required: ['apiKey'] } },
      ],
      nextCursor: 'c',
    };
    assert.deepEqual(hideSecretArguments(listed, secretArguments), {
      tools: [
        { name: 'search', inputSchema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
        listed.tools[1],
      ],
      nextCursor: 'c',
    });
  });

  it("fills the caller's value in, over whatever the model sent", () => {
    const request = {
      jsonrpc: '2.0' as const,
      id: 1,
      method: 'tools/call',
      params: { name: 'search', arguments: { query: 'q', apiKey: 'from the model' } },
    };
    const filled = fillSecretArguments(request, secretArguments.search, { sub: 's', secrets: { API_KEY: 'alice-key' } });
    assert.deepEqual(filled.params, { name: 'search', arguments: { query: 'q', apiKey: 'alice-key' } });
    assert.deepEqual(request.params.arguments.apiKey, 'from the model', 'the original is left as it was');
  });
});
