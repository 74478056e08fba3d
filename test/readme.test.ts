import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { hashPassword } from '../src/authz/password-hash.js';
import { packageRoot } from '../src/paths.js';

const run = promisify(execFile);
const readme = readFileSync(resolve(packageRoot, 'README.md'), 'utf8');

/** The first ```json block after a heading: what a reader copies from that section. */
function firstJsonBlockAfter(heading: string): string {
  const section = readme.slice(readme.indexOf(heading));
  const match = /```json\n([\s\S]*?)\n```/.exec(section);
  assert.ok(match, `README has a json block after "${heading}"`);
  return match[1]!;
}

describe('README, followed literally', () => {
  it('the big configuration example is valid JSON that `check` accepts once its variables are set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-readme-'));
    const file = join(dir, 'gateway.json');
    // The one placeholder the README asks the reader to fill in, filled in as they would.
    const example = firstJsonBlockAfter('## Configuration');
    assert.equal(example.match(/<[^>]+>/g)?.join(), '<from hash-password>');
    writeFileSync(file, example.replace('<from hash-password>', await hashPassword('a long password')));
    const env = { ...process.env, GOOGLE_SECRET: 'g-secret', GITHUB_SECRET: 'gh-secret', OKTA_SECRET: 'okta-secret', DOCS_KEY: 'docs-key' };
    const { stdout } = await run(process.execPath, [resolve(packageRoot, 'dist/src/cli/main.js'), 'check', '--config', file], { env });
    assert.match(stdout, /everything/);
    assert.match(stdout, /docs/);
  });

  it('never sets `cluster` in an example that stores in LMDB', () => {
    for (const [, block] of readme.matchAll(/```jsonc?\n([\s\S]*?)\n```/g)) {
      if (block!.includes('"lmdb:')) assert.doesNotMatch(block!, /"cluster"/);
    }
  });

  it('names files that exist: examples, sources and tests (the layout moves; the README must follow)', () => {
    const named = [...readme.matchAll(/[`([](docs|src|test|views)\/([\w./-]+\.(?:json|ts|html|css|png))/g)].map((m) => `${m[1]}/${m[2]}`);
    assert.ok(named.length > 20, `the README names files (${named.length} found)`);
    for (const name of new Set(named)) assert.ok(existsSync(resolve(packageRoot, name)), `${name} exists`);
  });
});
