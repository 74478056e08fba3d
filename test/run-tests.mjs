#!/usr/bin/env node
// Runs the compiled test suite after making sure the real components it drives are installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
  process.stderr.write(`npm test needs ${missing.map(({ pkg, why }) => `${pkg} (${why})`).join(' and ')}: run \`sudo apt-get install -y ${pkgs.join(' ')}\` and try again.\n`);
  process.exit(1);
}

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return testFiles(path);
    return name.endsWith('.test.js') ? [path] : [];
  }).sort();
}

ensureSystemPackages();
const only = process.argv.slice(2);
const files = testFiles('dist/test').filter((file) => only.length === 0 || only.some((part) => file.includes(part)));
const result = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
