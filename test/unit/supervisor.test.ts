import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { ProcessSupervisor } from '../../src/mcp/process/supervisor.js';
import { sleep } from '../helpers/wait.js';

describe('process supervisor', () => {
  it('starts nothing once closed, even when the close lands during a restart backoff', async () => {
    // A server that records each start, then exits before answering initialize.
    const starts = join(mkdtempSync(join(tmpdir(), 'gw-supervisor-')), 'starts');
    const spec = {
      command: process.execPath,
      args: ['-e', `require('fs').appendFileSync(${JSON.stringify(starts)}, 'x'); process.exit(1)`],
      env: {},
    };
    const listener = { message: () => {}, stopped: () => {}, wanted: () => true };
    let nextId = 0;
    const supervisor = new ProcessSupervisor('flaky', spec as never, createLogger({ level: 'silent' }), listener, {
      allocateId: () => ++nextId,
    });
    await assert.rejects(supervisor.ensureStarted(), /could not be started/);
    const retry = supervisor.ensureStarted(); // waits out the backoff (250 ms) before starting again
    await supervisor.close();
    await assert.rejects(retry, /shutting down/);
    await sleep(500); // longer than the backoff: a start now would be a process nobody owns
    assert.equal(readFileSync(starts, 'utf8'), 'x', 'one start, none after close');
    assert.equal(supervisor.pid, undefined);
  });
});
