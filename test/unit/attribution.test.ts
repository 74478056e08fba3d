import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Attribution } from '../../src/mcp/core/attribution.js';
import { CallTable } from '../../src/mcp/core/call-table.js';
import type { JsonRpcRequest } from '../../src/mcp/jsonrpc.js';

const alice = { sub: 'alice' };
const bob = { sub: 'bob' };
const call = (id: number): JsonRpcRequest => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'elicit' } });

/** A call table with calls written to the process, and who is waiting for their client. */
function inFlight(...sessions: Array<typeof alice>) {
  const table = new CallTable<typeof alice>();
  sessions.forEach((session, i) => (table.add(session, call(i + 1)).sent = true));
  const waiting = new Set<typeof alice>();
  return { table, waiting, isWaiting: (session: typeof alice) => waiting.has(session) };
}

describe('attribution of a process message without a request id', () => {
  it("goes to the one session whose calls are in flight, with its latest call's id", () => {
    const { table, isWaiting } = inFlight(alice, alice);
    assert.deepEqual(new Attribution<typeof alice>().owner(table.calls(), isWaiting, 0), { session: alice, relatedId: 2 });
  });

  it('goes nowhere while calls of two sessions run', () => {
    const { table, isWaiting } = inFlight(alice, bob);
    assert.equal(new Attribution<typeof alice>().owner(table.calls(), isWaiting, 0), undefined);
  });

  it('sets aside a call that waits for its client (parked), so the running one is found', () => {
    const { table, waiting, isWaiting } = inFlight(alice, bob);
    waiting.add(alice);
    assert.equal(new Attribution<typeof alice>().owner(table.calls(), isWaiting, 0)?.session, bob);
  });

  it('keeps requests written in one burst together, but not once another call has started', () => {
    const { table, waiting, isWaiting } = inFlight(alice, bob);
    waiting.add(alice);
    const attribution = new Attribution<typeof alice>();
    assert.equal(attribution.owner(table.calls(), isWaiting, 100)?.session, bob);
    waiting.add(bob); // bob's first request is out: both wait now
    assert.equal(attribution.owner(table.calls(), isWaiting, 101)?.session, bob, 'the second request of the burst');
    assert.equal(attribution.owner(table.calls(), isWaiting, 200), undefined, 'long after, both wait: nobody');
    const { table: grown, isWaiting: waits } = inFlight(alice, bob);
    const burst = new Attribution<typeof alice>();
    const onlyBob = (session: typeof alice) => session === alice || waits(session);
    assert.equal(burst.owner(grown.calls(), onlyBob, 300)?.session, bob);
    grown.add(alice, call(9)).sent = true;
    assert.equal(
      burst.owner(grown.calls(), () => false, 301),
      undefined,
      'a call started since: no burst rule',
    );
  });
});
