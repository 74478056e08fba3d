#!/usr/bin/env node
// Runs the compiled test suite after making sure the real components it drives are installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

const NEEDED = [
  { binary: '/usr/bin/chromium', pkg: 'chromium', why: 'browser tests' },
  { binary: '/usr/bin/redis-server', pkg: 'redis-server', why: 'Redis storage tests' },
  { binary: '/usr/bin/caddy', pkg: 'caddy', why: 'the Caddy reverse-proxy test' },
];

function ensureSystemPackages() {
  const missing = NEEDED.filter(({ binary }) => !existsSync(binary));
  if (missing.length === 0) return;
  const pkgs = missing.map(({ pkg }) => pkg);
  if (process.getuid?.() === 0) {
    process.stdout.write(`installing ${pkgs.join(', ')} for the tests (apt-get)...\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
    return;
  }
  const needs = missing.map(({ pkg, why }) => `${pkg} (${why})`).join(' and ');
  process.stderr.write(`npm test needs ${needs}: run \`sudo apt-get install -y ${pkgs.join(' ')}\` and try again.\n`);
  process.exit(1);
}

/**
 * The gateway needs Node.js 22 or newer (the suite runs on 24, as .ci/run does). On an older node,
 * use the Node 24 that .ci/run installs into .ci/node when it is there, or say how to get one.
 */
function ensureNodeVersion() {
  if (Number(process.versions.node.split('.')[0]) >= 22) return;
  const node24 = join('.ci', 'node', 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node24)) {
    // As with the system packages above: fetch what the suite needs rather than fail.
    process.stdout.write(
      `node ${process.version} is too old for the gateway: installing Node.js 24 from the npm registry into .ci/node...\n`,
    );
    spawnSync('npm', ['install', '--prefix', join('.ci', 'node'), '--no-save', '--no-package-lock', '--no-audit', '--no-fund', 'node@24'], {
      stdio: 'inherit',
    });
  }
  if (existsSync(node24)) {
    process.stdout.write(`node ${process.version} is too old for the gateway: running the tests on ${node24}\n`);
    // First on PATH too, for what the tests start through npx.
    const env = { ...process.env, PATH: `${resolve(dirname(node24))}${delimiter}${process.env.PATH ?? ''}` };
    const rerun = spawnSync(node24, process.argv.slice(1), { stdio: 'inherit', env });
    process.exit(rerun.status ?? 1);
  }
  process.stderr.write(
    `npm test needs Node.js 22 or newer (this is ${process.version}): install Node.js 24, ` +
      'or run `npm install --prefix .ci/node --no-save node@24` and try again (or run .ci/run).\n',
  );
  process.exit(1);
}

function testFiles(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return testFiles(path);
      return name.endsWith('.test.js') ? [path] : [];
    })
    .sort();
}

ensureNodeVersion();
ensureSystemPackages();
const only = process.argv.slice(2);
const files = testFiles('dist/test').filter((file) => only.length === 0 || only.some((part) => file.includes(part)));
const result = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
