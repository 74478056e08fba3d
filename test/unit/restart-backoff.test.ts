import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIRST_DELAY_MS, HEALTHY_UPTIME_MS, MAX_DELAY_MS, RestartBackoff } from '../../src/mcp/process/restart-backoff.js';

describe('restart backoff', () => {
  it('doubles the wait for a crash loop, up to the cap', () => {
    const backoff = new RestartBackoff();
    const waits = Array.from({ length: 10 }, () => backoff.afterCrash(1_000));
    assert.deepEqual(waits.slice(0, 4), [FIRST_DELAY_MS, 2 * FIRST_DELAY_MS, 4 * FIRST_DELAY_MS, 8 * FIRST_DELAY_MS]);
    assert.equal(waits.at(-1), MAX_DELAY_MS);
  });

  it('keeps callers of a server that stops every 45 s waiting only the first delay', () => {
    const backoff = new RestartBackoff();
    for (let i = 0; i < 20; i++) assert.equal(backoff.afterCrash(45_000), FIRST_DELAY_MS);
  });

  it('starts over once a process has served for the healthy uptime, however long the streak was', () => {
    const backoff = new RestartBackoff();
    for (let i = 0; i < 8; i++) backoff.afterFailedStart();
    assert.equal(backoff.afterCrash(HEALTHY_UPTIME_MS - 1), MAX_DELAY_MS);
    assert.equal(backoff.afterCrash(HEALTHY_UPTIME_MS), FIRST_DELAY_MS);
  });
});
