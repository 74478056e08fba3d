import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallTable } from '../../src/mcp/core/call-table.js';
import type { JsonRpcRequest } from '../../src/mcp/jsonrpc.js';

const alice = { sub: 'alice' };
const bob = { sub: 'bob' };
const call = (id: string | number, meta?: Record<string, unknown>): JsonRpcRequest => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', ...(meta ? { _meta: meta } : {}) },
});

describe('call table', () => {
  it('keeps the ids 1 and "1" of one session apart, and equal ids of two sessions apart', () => {
    const table = new CallTable<typeof alice>();
    const numeric = table.add(alice, call(1));
    const text = table.add(alice, call('1'));
    const other = table.add(bob, call(1));
    assert.equal(table.byClient(alice, 1), numeric);
    assert.equal(table.byClient(alice, '1'), text);
    assert.equal(table.byClient(bob, 1), other);
    assert.equal(new Set([numeric.processId, text.processId, other.processId]).size, 3, 'the process sees three ids');
    assert.equal(table.byProcess(text.processId), text);
    assert.equal(table.byProcess(String(text.processId)), undefined, 'the process answers with the id it was given');
  });

  it('maps a rewritten progress token back to its call without parsing it', () => {
    const table = new CallTable<typeof alice>();
    const a = table.add(alice, call(1, { progressToken: 'same' }));
    const b = table.add(bob, call(1, { progressToken: 'same' }));
    const none = table.add(bob, call(2));
    assert.notEqual(a.processToken, b.processToken);
    assert.equal(table.byProgressToken(a.processToken), a);
    assert.equal(table.byProgressToken(b.processToken), b);
    assert.equal(a.clientToken, 'same');
    assert.equal(none.processToken, undefined);
    assert.equal(table.byProgressToken('same'), undefined, "the client's own token means nothing to the process side");
  });

  it('forgets a call from every index in one step, once', () => {
    const table = new CallTable<typeof alice>();
    const a = table.add(alice, call(7, { progressToken: 3 }));
    a.timer = setTimeout(() => assert.fail('the timer was cleared'), 5);
    table.add(alice, call(8));
    assert.equal(table.callsOfPerson('alice'), 2);
    assert.equal(table.finish(a), true);
    assert.equal(table.finish(a), false, 'a second finish is a no-op');
    assert.equal(table.has(a), false);
    assert.equal(table.byClient(alice, 7), undefined);
    assert.equal(table.byProcess(a.processId), undefined);
    assert.equal(table.byProgressToken(a.processToken), undefined);
    assert.equal(table.callsOfPerson('alice'), 1);
    assert.equal(table.size, 1);
    assert.deepEqual(
      table.callsOf(alice).map((c) => c.clientId),
      [8],
    );
  });

  it('counts people with calls in flight, and forgets a person whose calls all ended', () => {
    const table = new CallTable<typeof alice>();
    const calls = [table.add(alice, call(1)), table.add(alice, call(2)), table.add(bob, call(1))];
    assert.equal(table.people, 2);
    for (const c of calls.slice(0, 2)) table.finish(c);
    assert.equal(table.people, 1);
    assert.equal(table.callsOfPerson('alice'), 0);
  });

  it('hands a request of the process to one session, and takes the answer only from that session', () => {
    const table = new CallTable<typeof alice>();
    const id = table.addServerRequest(alice, 42);
    assert.equal(table.takeServerRequest(bob, id), undefined, 'another session cannot answer it');
    assert.equal(table.takeServerRequest(alice, id)?.processId, 42);
    assert.equal(table.takeServerRequest(alice, id), undefined, 'answered once');
    const again = table.addServerRequest(bob, 'srv-1');
    assert.deepEqual(
      table.takeServerRequestsWhere((r) => r.processId === 'srv-1').map((r) => r.sessionFacingId),
      [again],
    );
  });
});
