// The router between sessions and one process, driven in memory: a fake process records what it is
// sent and answers when told, and each session writes to a sink that records what reaches it.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Router } from '../../src/mcp/core/router.js';
import { McpSession } from '../../src/mcp/core/session.js';
import type { MessageSink, SendOptions } from '../../src/mcp/core/sink.js';
import type { JsonRpcId, JsonRpcMessage, JsonRpcRequest } from '../../src/mcp/jsonrpc.js';
import type { ProcessHandle, ProcessListener } from '../../src/mcp/process/supervisor.js';
import type { StdioServerConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';

class MemorySink implements MessageSink {
  readonly sent: Array<{ message: JsonRpcMessage; related?: JsonRpcId }> = [];
  readonly abandoned: JsonRpcId[] = [];
  listening = false;
  closed = false;
  send(message: JsonRpcMessage, options?: SendOptions): boolean {
    this.sent.push({ message, related: options?.relatedRequestId });
    return true;
  }
  abandon(requestId: JsonRpcId): void {
    this.abandoned.push(requestId);
  }
  stopListening(): void {
    this.listening = false;
  }
  close(): void {
    this.closed = true;
  }
}

class FakeProcess implements ProcessHandle {
  readonly written: JsonRpcMessage[] = [];
  ready = true;
  pid = 1;
  initializeResult = {};
  private start?: { resolve(): void; promise: Promise<void> };
  constructor(readonly listener: ProcessListener) {}
  ensureStarted(): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (!this.start) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.start = { resolve, promise };
    }
    return this.start.promise;
  }
  /** The restart completes: the process is ready and whatever waited is written. */
  async started(): Promise<void> {
    this.ready = true;
    this.start?.resolve();
    this.start = undefined;
    await new Promise((r) => setImmediate(r));
  }
  send(message: JsonRpcMessage): boolean {
    this.written.push(message);
    return this.ready;
  }
  async close(): Promise<void> {}
  last(): JsonRpcMessage & { id?: JsonRpcId; params?: Record<string, any> } {
    return this.written.at(-1) as never;
  }
}

const spec = { callTimeout: 30 } as StdioServerConfig;
const logger = createLogger({ level: 'silent' });

const routers: Router[] = [];

function setup() {
  let fake!: FakeProcess;
  const router = new Router('test', spec, logger, {}, (listener) => (fake = new FakeProcess(listener)));
  routers.push(router);
  const open = (sub: string) => {
    const sink = new MemorySink();
    const session = new McpSession({ sub, clientId: 'client' }, 'test', sink);
    router.attach(session);
    return { session, sink };
  };
  const request = (session: McpSession, id: JsonRpcId, params: Record<string, unknown> = {}) => {
    const message: JsonRpcRequest = { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', ...params } };
    session.track(id);
    router.request(session, message);
    return fake.last();
  };
  return { router, open, request, fake: () => fake };
}

describe('router (in memory)', () => {
  // Ends the calls left in flight, and their timeout timers with them.
  afterEach(async () => {
    await Promise.all(routers.splice(0).map((router) => router.close()));
  });

  it('rewrites colliding client ids and routes each answer back to its own session', () => {
    const { open, request, fake } = setup();
    const alice = open('alice');
    const bob = open('bob');
    const toProcessA = request(alice.session, 1);
    const toProcessB = request(bob.session, 1);
    const toProcessC = request(alice.session, '1');
    assert.equal(new Set([toProcessA.id, toProcessB.id, toProcessC.id]).size, 3);
    for (const [written, text] of [
      [toProcessB, 'b'],
      [toProcessC, 'c'],
      [toProcessA, 'a'],
    ] as const) {
      fake().listener.message({ jsonrpc: '2.0', id: written.id!, result: { text } });
    }
    assert.deepEqual(
      alice.sink.sent.map((s) => [s.message, s.related]),
      [
        [{ jsonrpc: '2.0', id: '1', result: { text: 'c' } }, '1'],
        [{ jsonrpc: '2.0', id: 1, result: { text: 'a' } }, 1],
      ],
    );
    assert.deepEqual(
      bob.sink.sent.map((s) => s.message),
      [{ jsonrpc: '2.0', id: 1, result: { text: 'b' } }],
    );
  });

  it("routes progress by the rewritten token, with the client's own token restored", () => {
    const { open, request, fake } = setup();
    const alice = open('alice');
    const bob = open('bob');
    const a = request(alice.session, 5, { _meta: { progressToken: 'same' } });
    request(bob.session, 5, { _meta: { progressToken: 'same' } });
    const token = a.params!._meta.progressToken;
    assert.notEqual(token, 'same');
    fake().listener.message({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1 } });
    assert.deepEqual(alice.sink.sent, [
      { message: { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'same', progress: 1 } }, related: 5 },
    ]);
    assert.deepEqual(bob.sink.sent, []);
  });

  it('drops a call cancelled while its process restarts: the process never sees it, the client gets nothing', async () => {
    const { open, request, router, fake } = setup();
    const alice = open('alice');
    fake().ready = false;
    request(alice.session, 'late', { _meta: { progressToken: 'p' } });
    const writtenBefore = fake().written.length;
    router.notify(alice.session, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'late' } });
    assert.deepEqual(alice.sink.abandoned, ['late'], 'the transport may end what carries it');
    await fake().started();
    assert.equal(fake().written.length, writtenBefore, 'neither the call nor a cancel reached the process');
    assert.deepEqual(alice.sink.sent, []);
    assert.equal(alice.session.inFlightCount, 0);
  });

  it("passes a cancel of a written call to the process under the process's id, and ignores its late answer", () => {
    const { open, request, router, fake } = setup();
    const alice = open('alice');
    const written = request(alice.session, 9);
    router.notify(alice.session, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 9, reason: 'user' } });
    assert.deepEqual(fake().last(), {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: written.id, reason: 'user' },
    });
    fake().listener.message({ jsonrpc: '2.0', id: written.id!, result: {} });
    assert.deepEqual(alice.sink.sent, []);
    assert.deepEqual(alice.sink.abandoned, [9]);
  });

  it('sends a request of the process to the session whose call is in flight, and its answer back', () => {
    const { open, request, router, fake } = setup();
    const alice = open('alice');
    open('bob');
    alice.session.clientCapabilities = { sampling: {} };
    request(alice.session, 3);
    fake().listener.message({ jsonrpc: '2.0', id: 'srv-7', method: 'sampling/createMessage', params: {} });
    const { message, related } = alice.sink.sent[0]!;
    assert.equal(related, 3);
    const sessionFacingId = (message as { id: JsonRpcId }).id;
    router.respond(alice.session, { jsonrpc: '2.0', id: sessionFacingId, result: { ok: true } });
    assert.deepEqual(fake().last(), { jsonrpc: '2.0', id: 'srv-7', result: { ok: true } });
  });

  it('answers every written call with an error when the process stops', () => {
    const { open, request, fake } = setup();
    const alice = open('alice');
    request(alice.session, 1);
    fake().listener.stopped({ pid: 1, reason: 'killed by SIGKILL', stderr: '' });
    const answer = alice.sink.sent[0]!.message as { id: JsonRpcId; error?: { message: string } };
    assert.equal(answer.id, 1);
    assert.match(answer.error?.message ?? '', /stopped unexpectedly \(killed by SIGKILL\) before answering tools\/call/);
  });
});
