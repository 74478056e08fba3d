import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { demoServerCommand, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';

const run = promisify(execFile);
const CLI = resolve(packageRoot, 'dist/src/cli/main.js');
const HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };

interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

function writeConfig(dir: string, name: string, mcpServers: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    JSON.stringify({
      publicUrl: 'https://mcp.example.com',
      login: { password: { users: [{ email: 'alice@example.com', passwordHash: HASH }] } },
      mcpServers,
    }),
  );
  return file;
}

async function check(...args: string[]): Promise<CliOutcome> {
  return run(process.execPath, [CLI, 'check', ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: CliOutcome) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

describe('check without starting anything', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-check-'));

  it('refuses a command that is not on PATH, one that is not executable, and a cwd that does not exist', async () => {
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin/server.sh'), '#!/bin/sh\n');
    chmodSync(join(dir, 'bin/server.sh'), 0o644);
    const file = writeConfig(dir, 'unrunnable.json', {
      typo: { command: 'npxx-not-installed' },
      notExecutable: { command: './bin/server.sh' },
      noFolder: { command: 'node', cwd: './missing-folder' },
      fine: { command: 'node', args: ['server.js'], cwd: '.' },
    });
    const { code, stderr } = await check('--config', file);
    assert.equal(code, 1);
    assert.match(stderr, /mcpServers\.typo\.command: "npxx-not-installed" is not on PATH \(.*\): install it, or write its full path/);
    assert.match(stderr, new RegExp(`mcpServers\\.notExecutable\\.command: ${join(dir, 'bin/server.sh')} is not executable`));
    assert.match(stderr, new RegExp(`mcpServers\\.noFolder\\.cwd: ${join(dir, 'missing-folder')} does not exist`));
    assert.doesNotMatch(stderr, /mcpServers\.fine/);
    assert.equal(stderr.match(/^ {2}- /gm)?.length, 3, stderr);
  });

  it("looks a command up on the PATH the server's own env gives it", async () => {
    mkdirSync(join(dir, 'tools'));
    writeFileSync(join(dir, 'tools/my-server'), '#!/bin/sh\n');
    chmodSync(join(dir, 'tools/my-server'), 0o755);
    const file = writeConfig(dir, 'own-path.json', { mine: { command: 'my-server', env: { PATH: join(dir, 'tools') } } });
    const { code, stdout } = await check('--config', file);
    assert.equal(code, 0);
    assert.match(stdout, /is valid/);
  });
});

describe('check --probe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-probe-'));
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway();
  });
  after(() => gateway.close());

  it('starts each stdio server once, lists its tools, and calls a url server that answers 401 reachable', async () => {
    const file = writeConfig(dir, 'good.json', {
      demo: demoServerCommand,
      tools: fixture,
      guarded: { url: `${gateway.url}/mcp/demo` },
    });
    const { code, stdout } = await check('--config', file, '--probe');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /Probing 3 server\(s\), each within 30s:/);
    assert.match(stdout, /^ {2}demo {5}ok {6}\d+ tools? \(\d+\.\d+s\)$/m);
    assert.match(stdout, /^ {2}tools {4}ok {6}\d+ tools \(\d+\.\d+s\)$/m);
    assert.match(
      stdout,
      /^ {2}guarded {2}ok {6}reachable, answers 401: it needs authorization, so its tools are not listed \(\d+\.\d+s\)$/m,
    );
  });

  it('reports each server that fails, with why, and exits 1', async () => {
    const closedPort = await freePort();
    const file = writeConfig(dir, 'bad.json', {
      crashes: { command: process.execPath, args: ['-e', 'process.stderr.write("cannot open the database\\n"); process.exit(3)'] },
      silent: { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] },
      down: { url: `http://127.0.0.1:${closedPort}/mcp` },
      wrongToken: { url: `${gateway.url}/mcp/demo`, headers: { Authorization: 'Bearer not-a-token' } },
      demo: demoServerCommand,
    });
    const startedAt = Date.now();
    const { code, stdout } = await check('--config', file, '--probe', '--timeout', '2s');
    assert.equal(code, 1, stdout);
    assert.match(stdout, /^ {2}crashes {5}FAILED {2}it exited before answering; it printed: cannot open the database \(\d+\.\ds\)$/m);
    assert.match(stdout, /^ {2}silent {6}FAILED {2}no answer within 2s \(2\.\ds\)$/m);
    assert.match(stdout, /^ {2}down {8}FAILED {2}.*ECONNREFUSED.*$/m);
    assert.match(stdout, /^ {2}wrongToken {2}FAILED {2}answers 401 to the configured Authorization header/m);
    assert.match(stdout, /^ {2}demo {8}ok/m);
    assert.match(stdout, /^4 of 5 server\(s\) failed the probe\.$/m);
    assert.ok(Date.now() - startedAt < 20_000, 'each server has its own deadline');
  });

  it('refuses a --timeout that is not a duration', async () => {
    const file = writeConfig(dir, 'one.json', { demo: demoServerCommand });
    const { code, stderr } = await check('--config', file, '--probe', '--timeout', 'soon');
    assert.equal(code, 1);
    assert.match(stderr, /--timeout must be a duration like "30s"/);
  });
});
