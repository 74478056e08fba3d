// The newcomer scenario of issue [10]: a memory server and a filesystem server, per user, each
// person's data in their own folder through ${user.dataDir}. Alice's graph and files are
// invisible to Bob, survive a restart of the gateway, and a shared server naming a person is
// refused at start. (The fixture server keeps data as @modelcontextprotocol/server-memory and
// server-filesystem do: a JSON file named by MEMORY_FILE_PATH, files under the folder argument.)
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { textOf } from './helpers/bridge-fixture.js';
import { ALICE, BOB, spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { decodeJwt } from './helpers/oauth-client.js';
import { obtainTokens } from './helpers/tokens.js';

const fixture = resolve(packageRoot, 'dist/test/fixtures/personal-data-server.js');

const servers = {
  memory: { command: process.execPath, args: [fixture], env: { MEMORY_FILE_PATH: '${user.dataDir}/memory.json', PERSON: '${user.email}' } },
  files: { command: process.execPath, args: [fixture, '${user.dataDir}'] },
};

type Person = typeof ALICE;

/** A person's fresh session on one server (tokens obtained once per person and server). */
async function sessionOf(url: string, tokens: Map<string, string>, person: Person, server: string): Promise<McpTestClient> {
  const key = `${person.email} ${server}`;
  if (!tokens.has(key)) tokens.set(key, (await obtainTokens(url, server, person)).access_token);
  const client = new McpTestClient(`${url}/mcp/${server}`, tokens.get(key)!);
  await client.initialize();
  return client;
}

async function call(client: McpTestClient, tool: string, args: Record<string, unknown> = {}): Promise<string> {
  const { result, error } = await client.request('tools/call', { name: tool, arguments: args });
  assert.ok(result && !result.isError, `${tool}: ${JSON.stringify(error ?? result)}`);
  return textOf(result)!;
}

describe('each person has their own data on per-user servers', () => {
  let gateway: GatewayProcess | undefined;
  let config: Record<string, unknown>;
  const tokens = new Map<string, string>();
  before(async () => {
    config = await testConfigJson({ mcpServers: servers, personalDataDir: mkdtempSync(join(tmpdir(), 'gw-people-')) });
  });
  after(async () => {
    await gateway?.kill();
  });

  it("keeps Alice's graph and files from Bob, and both across a restart", async () => {
    gateway = await spawnGateway(config);
    const { url } = gateway;
    const aliceMemory = await sessionOf(url, tokens, ALICE, 'memory');
    assert.equal(await call(aliceMemory, 'remember', { entity: 'Alice: the launch is on Friday' }), 'remembered');
    assert.deepEqual(JSON.parse(await call(aliceMemory, 'read_graph')), ['Alice: the launch is on Friday']);
    const bobMemory = await sessionOf(url, tokens, BOB, 'memory');
    assert.deepEqual(JSON.parse(await call(bobMemory, 'read_graph')), [], "Bob's graph is his own, and empty");

    const aliceFiles = await sessionOf(url, tokens, ALICE, 'files');
    await call(aliceFiles, 'write_file', { name: 'diary.txt', content: 'private' });
    const bobFiles = await sessionOf(url, tokens, BOB, 'files');
    assert.deepEqual(JSON.parse(await call(bobFiles, 'list_files')), [], "Bob does not see Alice's file");
    assert.deepEqual(JSON.parse(await call(aliceFiles, 'list_files')), ['diary.txt']);

    // Each process has its own HOME and TMPDIR, private (0700), in a folder named by a hash.
    const alice = JSON.parse(await call(aliceMemory, 'started_with'));
    const bob = JSON.parse(await call(bobMemory, 'started_with'));
    assert.equal(alice.person, ALICE.email, '${user.email} is the person the process serves');
    assert.equal(bob.person, BOB.email);
    assert.notEqual(alice.home, bob.home);
    assert.notEqual(alice.tmpdir, bob.tmpdir);
    const root = config.personalDataDir as string;
    const aliceSub = decodeJwt(tokens.get(`${ALICE.email} memory`)!).payload.sub as string;
    for (const path of [alice.home, alice.tmpdir]) {
      assert.ok(path.startsWith(`${root}/memory/`), path);
      assert.ok(!path.includes(aliceSub), 'the folder does not carry the raw sub');
      assert.equal(statSync(path).mode & 0o777, 0o700);
    }

    await gateway.kill('SIGKILL');
    gateway = await spawnGateway(config);
    const again = await sessionOf(gateway.url, tokens, ALICE, 'memory');
    assert.deepEqual(JSON.parse(await call(again, 'read_graph')), ['Alice: the launch is on Friday'], 'her graph survived the restart');
    const filesAgain = await sessionOf(gateway.url, tokens, ALICE, 'files');
    assert.deepEqual(JSON.parse(await call(filesAgain, 'list_files')), ['diary.txt']);
    const bobAgain = await sessionOf(gateway.url, tokens, BOB, 'memory');
    assert.deepEqual(JSON.parse(await call(bobAgain, 'read_graph')), []);
  });

  it('check --probe starts a templated server for a stand-in person, in a throwaway folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-conf-'));
    const file = join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify(await testConfigJson({ mcpServers: servers })));
    const { stdout } = await promisify(execFile)(process.execPath, [
      resolve(packageRoot, 'dist/src/cli/main.js'),
      'check',
      '--config',
      file,
      '--probe',
    ]);
    assert.match(stdout, /files +ok +\d+ tools/);
    assert.match(stdout, /memory +ok +\d+ tools/);
  });

  it('refuses to start with a person template on a shared server, saying which field and why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-conf-'));
    const file = join(dir, 'gateway.json');
    const shared = { memory: { ...servers.memory, isolation: 'shared' } };
    writeFileSync(file, JSON.stringify(await testConfigJson({ mcpServers: shared })));
    const child = spawn(process.execPath, [resolve(packageRoot, 'dist/src/cli/main.js'), 'start', '--config', file], { stdio: 'pipe' });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise((r) => child.once('exit', r));
    assert.notEqual(code, 0, output);
    assert.match(output, /mcpServers\.memory\.env\.MEMORY_FILE_PATH: \$\{user\.dataDir\} names a person, but isolation is "shared"/);
    assert.match(output, /mcpServers\.memory\.env\.PERSON: \$\{user\.email\} names a person/);
  });
});

/** The same scenario with the real servers a newcomer would configure (the README's example). */
describe('the real memory and filesystem servers, per user', () => {
  const modules = resolve(packageRoot, 'node_modules/@modelcontextprotocol');
  let gateway: GatewayProcess | undefined;
  const tokens = new Map<string, string>();
  after(async () => {
    await gateway?.kill();
  });

  it("keeps Alice's knowledge graph and her files from Bob", async () => {
    const config = await testConfigJson({
      personalDataDir: mkdtempSync(join(tmpdir(), 'gw-people-')),
      mcpServers: {
        memory: {
          command: process.execPath,
          args: [join(modules, 'server-memory/dist/index.js')],
          env: { MEMORY_FILE_PATH: '${user.dataDir}/memory.jsonl' },
        },
        files: { command: process.execPath, args: [join(modules, 'server-filesystem/dist/index.js'), '${user.dataDir}'] },
      },
    });
    gateway = await spawnGateway(config);
    const { url } = gateway;
    const entity = { name: 'Launch', entityType: 'event', observations: ['Alice: the launch is on Friday'] };
    const aliceMemory = await sessionOf(url, tokens, ALICE, 'memory');
    await call(aliceMemory, 'create_entities', { entities: [entity] });
    assert.match(await call(aliceMemory, 'read_graph'), /the launch is on Friday/);
    const bobMemory = await sessionOf(url, tokens, BOB, 'memory');
    assert.doesNotMatch(await call(bobMemory, 'read_graph'), /Launch/, "Bob's graph does not hold Alice's entity");

    const folderOf = async (client: McpTestClient) => /\/\S+/.exec(await call(client, 'list_allowed_directories'))![0];
    const aliceFiles = await sessionOf(url, tokens, ALICE, 'files');
    const aliceFolder = await folderOf(aliceFiles);
    await call(aliceFiles, 'write_file', { path: `${aliceFolder}/diary.txt`, content: 'private' });
    const bobFiles = await sessionOf(url, tokens, BOB, 'files');
    const bobFolder = await folderOf(bobFiles);
    assert.notEqual(bobFolder, aliceFolder);
    assert.doesNotMatch(await call(bobFiles, 'list_directory', { path: bobFolder }), /diary/);
    const { result } = await bobFiles.request('tools/call', { name: 'read_text_file', arguments: { path: `${aliceFolder}/diary.txt` } });
    assert.equal(result.isError, true, "Bob's server refuses a path outside his own folder");
    assert.match(await call(aliceFiles, 'read_text_file', { path: `${aliceFolder}/diary.txt` }), /private/);
  });
});
