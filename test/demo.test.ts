import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { freePort } from './helpers/ports.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

describe('npm start without a config file', () => {
  let child: ChildProcess | undefined;
  after(() => {
    child?.kill('SIGKILL');
  });

  it('serves the built-in demo: a printed one-time password signs in, and the demo tool answers', async () => {
    const port = await freePort();
    const cwd = mkdtempSync(join(tmpdir(), 'gw-demo-'));
    child = spawn(process.execPath, [resolve(packageRoot, 'dist/src/cli/main.js'), 'start'], {
      cwd,
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => {
      output += d;
    });
    const password = await waitFor(
      () => {
        if (child!.exitCode !== null) assert.fail(`the demo exited:\n${output}`);
        return /password:\s+(\S+)/.exec(output)?.[1];
      },
      { timeout: 15_000, message: () => `a demo password to be printed:\n${output}` },
    );
    assert.match(output, new RegExp(`http://127\\.0\\.0\\.1:${port}/mcp/demo`));
    const base = `http://127.0.0.1:${port}`;
    const { access_token } = await obtainTokens(base, 'demo', { email: 'demo@example.com', password });
    const client = new McpTestClient(`${base}/mcp/demo`, access_token);
    const init = await client.initialize();
    assert.equal((init.serverInfo as { name: string }).name, 'gateway-demo');
    const sum = await client.callTool('add', { a: 2, b: 3 });
    assert.equal(sum.result.content[0].text, '5');
  });
});
