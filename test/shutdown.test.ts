import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { textOf } from './helpers/bridge-fixture.js';
import { spawnGateway, testConfigJson } from './helpers/gateway.js';
import { callInFlight, exitOf, processAlive, signedInClient } from './helpers/gateway-process.js';
import { startRecordedUpstream } from './helpers/remote-upstream.js';
import { unlessThrows, waitFor } from './helpers/wait.js';

const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };

describe('SIGTERM', () => {
  it('stops accepting, lets the call in flight finish, stops the stdio servers and exits 0', async () => {
    const gateway = await spawnGateway(await testConfigJson({ mcpServers: { tools: fixture }, shutdownDeadline: '5s' }));
    try {
      const { call, backendPid, stopping } = await callInFlight(gateway, 'slow_echo', { text: 'finished', ms: 1500 });
      const signalledAt = Date.now();
      gateway.child.kill('SIGTERM');
      const refused = () => unlessThrows(() => fetch(`${gateway.url}/healthz`)).then((response) => response === undefined);
      await waitFor(refused, { timeout: 2000, message: 'new connections to be refused once stopping' });
      assert.equal(gateway.child.exitCode, null, 'refused while the call in flight still runs');
      const { result, error } = await call;
      assert.equal(error, undefined);
      assert.equal(textOf(result), 'finished');
      assert.deepEqual(await stopping, { code: 0, signal: null });
      assert.ok(Date.now() - signalledAt < 5000, `exited ${Date.now() - signalledAt} ms after the signal`);
      assert.equal(processAlive(backendPid), false, 'the stdio server was stopped');
      assert.match(gateway.output(), /"event":"stopping","signal":"SIGTERM"/);
    } finally {
      await gateway.kill();
    }
  });

  // Without the streams ended at shutdown, the open remote stream holds the drain for the whole
  // 60 s deadline and the test's own 30 s timeout fails it.
  it('ends open remote GET streams at once instead of waiting out shutdownDeadline for them', { timeout: 30_000 }, async () => {
    const upstream = await startRecordedUpstream();
    const gateway = await spawnGateway(await testConfigJson({ mcpServers: { docs: { url: upstream.url } }, shutdownDeadline: '60s' }));
    try {
      const mcp = await signedInClient(gateway, 'docs');
      const stream = await mcp.openEventStream();
      assert.equal(stream.status, 200);
      gateway.child.kill('SIGTERM');
      assert.deepEqual(await exitOf(gateway), { code: 0, signal: null });
    } finally {
      await gateway.kill();
      await upstream.close();
    }
  });

  it('a call still running at the deadline gets an error answer, not a dropped connection', async () => {
    const gateway = await spawnGateway(await testConfigJson({ mcpServers: { tools: fixture }, shutdownDeadline: '1s' }));
    try {
      const { call, backendPid, stopping } = await callInFlight(gateway, 'hang');
      gateway.child.kill('SIGTERM');
      const { error, reply } = await call;
      assert.equal(reply.status, 200);
      assert.match(error?.message ?? '', /shutting down; retry/);
      assert.deepEqual(await stopping, { code: 0, signal: null });
      assert.equal(processAlive(backendPid), false);
    } finally {
      await gateway.kill();
    }
  });
});
