import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REPLAY_LIMITS, ReplayWindow, STANDALONE_STREAM } from '../../src/mcp/transports/sse-replay.js';

const note = (n: number) => ({ jsonrpc: '2.0' as const, method: 'notifications/message', params: { n } });
const idOf = (event: string) => /^id: (.*)$/m.exec(event)![1]!;
const numbersIn = (events: string[]) => events.map((event) => JSON.parse(/^data: (.*)$/m.exec(event)![1]!).params.n as number);

describe('SSE replay window', () => {
  it('replays what followed an id on its own stream only', () => {
    const window = new ReplayWindow();
    const post = window.openStream();
    const first = window.event(STANDALONE_STREAM, note(1));
    window.event(post, note(2));
    window.event(STANDALONE_STREAM, note(3));
    const onPost = window.event(post, note(4));
    assert.equal(window.after(idOf(first))!.stream, STANDALONE_STREAM);
    assert.equal(window.after(idOf(onPost))!.stream, post);
    assert.deepEqual(numbersIn(window.after(idOf(first))!.events), [3]);
    assert.deepEqual(numbersIn(window.after(idOf(onPost))!.events), []);
  });

  it("knows no id of another window (a previous life's), nor garbage", () => {
    const window = new ReplayWindow();
    const other = new ReplayWindow();
    const foreign = other.event(STANDALONE_STREAM, note(1));
    window.event(STANDALONE_STREAM, note(1));
    assert.equal(window.after(idOf(foreign)), undefined);
    for (const garbage of ['', '1_1', 'x'.repeat(500), `${idOf(foreign)}_9`]) assert.equal(window.after(garbage), undefined);
  });

  it('keeps at most its count of events, its size in bytes, and its age', () => {
    const window = new ReplayWindow();
    const start = window.event(STANDALONE_STREAM, note(0), 0);
    for (let n = 1; n <= REPLAY_LIMITS.events + 20; n++) window.event(STANDALONE_STREAM, note(n), 0);
    const kept = numbersIn(window.after(idOf(start), 0)!.events);
    assert.equal(kept.length, REPLAY_LIMITS.events);
    assert.equal(kept.at(-1), REPLAY_LIMITS.events + 20, 'the newest are kept');

    const big = { jsonrpc: '2.0' as const, method: 'notifications/message', params: { n: 0, data: 'x'.repeat(300 * 1024) } };
    const sized = new ReplayWindow();
    const before = sized.event(STANDALONE_STREAM, note(-1), 0);
    for (let n = 0; n < 5; n++) sized.event(STANDALONE_STREAM, { ...big, params: { ...big.params, n } }, 0);
    assert.deepEqual(numbersIn(sized.after(idOf(before), 0)!.events), [2, 3, 4], 'about 1 MB of the newest');

    const aged = new ReplayWindow();
    const old = aged.event(STANDALONE_STREAM, note(1), 0);
    aged.event(STANDALONE_STREAM, note(2), 0);
    aged.event(STANDALONE_STREAM, note(3), REPLAY_LIMITS.ageMs);
    assert.deepEqual(numbersIn(aged.after(idOf(old), REPLAY_LIMITS.ageMs + 1)!.events), [3]);
  });
});
