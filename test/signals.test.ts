import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { textOf } from './helpers/bridge-fixture.js';
import { spawnGateway, testConfigJson } from './helpers/gateway.js';
import { callInFlight, processAlive } from './helpers/gateway-process.js';

// Closing a terminal sends SIGHUP, and Ctrl-C sends SIGINT, to every process of its foreground job:
// the gateway and, unless they run apart, the stdio servers it started. Both must stop gracefully.
const fixture = { command: process.execPath, args: [resolve(packageRoot, 'dist/test/fixtures/bridge-test-server.js')] };

describe('terminal signals', () => {
  for (const signal of ['SIGHUP', 'SIGINT'] as const) {
    it(`${signal} to the whole job lets the call in flight finish, then stops the stdio servers and exits 0`, async () => {
      const gateway = await spawnGateway(
        await testConfigJson({ mcpServers: { tools: fixture }, shutdownDeadline: '5s' }),
        undefined,
        undefined,
        { detached: true },
      );
      try {
        const { call, backendPid, stopping } = await callInFlight(gateway, 'slow_echo', { text: 'finished', ms: 1500 });
        process.kill(-gateway.child.pid!, signal); // the process group, as the terminal does
        const { result, error } = await call;
        assert.equal(error, undefined, `the call failed: ${JSON.stringify(error)}`);
        assert.equal(textOf(result), 'finished');
        assert.deepEqual(await stopping, { code: 0, signal: null });
        assert.equal(processAlive(backendPid), false, 'the stdio server was stopped');
        assert.match(gateway.output(), new RegExp(`"event":"stopping","signal":"${signal}"`));
      } finally {
        await gateway.kill();
      }
    });
  }
});
