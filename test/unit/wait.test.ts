import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unlessThrows, waitFor } from '../helpers/wait.js';

describe('waitFor', () => {
  it('returns the first value that is neither undefined nor false', async () => {
    let tries = 0;
    const value = await waitFor(() => (++tries < 3 ? undefined : `after ${tries}`), { interval: 1 });
    assert.equal(value, 'after 3');
    assert.equal(await waitFor(() => 0, { interval: 1 }), 0, 'zero and the empty string are values');
  });

  it('says what it waited for, and for how long, when the time is up', async () => {
    let output = 'nothing yet';
    const waiting = waitFor(() => false, { timeout: 20, interval: 5, message: () => `the server to start: ${output}` });
    output = 'still nothing';
    await assert.rejects(waiting, { message: 'waited 20 ms for the server to start: still nothing' });
  });

  it('stops at once when the probe throws', async () => {
    let tries = 0;
    await assert.rejects(
      waitFor(() => {
        tries++;
        throw new Error('the child exited');
      }),
      /the child exited/,
    );
    assert.equal(tries, 1);
  });

  it('keeps trying while unlessThrows turns a failure into undefined', async () => {
    let tries = 0;
    const probe = () =>
      unlessThrows(async () => {
        if (++tries < 3) throw new Error('not listening yet');
        return 'up';
      });
    assert.equal(await waitFor(probe, { interval: 1 }), 'up');
  });
});
