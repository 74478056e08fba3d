import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LoginThrottle, placeOf, type AdmittedAttempt, type RefusedAttempt } from '../src/authz/login-throttle.js';
import { LmdbStore } from '../src/storage/lmdb-store.js';
import { RedisStore } from '../src/storage/redis-store.js';
import type { KeyValueStore } from '../src/storage/store.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { authorizeWithPassword, ForwardedBrowser, HttpBrowser, interactionAction } from './helpers/http-browser.js';
import { authorizeUrl, pkcePair, registerClient, type RegisteredClient } from './helpers/oauth-client.js';
import { waitOutRetryAfter } from './helpers/wait.js';

describe('password sign-in throttle (behind trustProxy)', () => {
  let gw: TestGateway;
  let client: RegisteredClient;
  /** Every wrong password that was really checked against the hash logs one login.failed event. */
  const verifiedFailures = (email: string, ip: string) =>
    gw.logs.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.event === 'login.failed' && line.who === email && line.ip === ip).length;
  const url = () => authorizeUrl(gw.url, { client, challenge: pkcePair().challenge, method: 'S256' });

  before(async () => {
    gw = await startTestGateway({ trustProxy: true });
    client = await registerClient(gw.url, {
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      token_endpoint_auth_method: 'none',
    });
  });
  after(async () => {
    await gw.close();
  });

  it('60 parallel wrong passwords: few are verified, the owner elsewhere is not locked out, the attacker address waits', async () => {
    const attackerIp = '203.0.113.66';
    const attacker = new ForwardedBrowser(gw.url, attackerIp);
    const loginStep = await attacker.follow(url());
    const action = new URL(interactionAction(loginStep.page!, 'login'), gw.url).toString();
    const csrf = /name="csrf" value="([^"]+)"/.exec(loginStep.page!)![1]!;
    const started = Date.now();
    const guesses = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        attacker.request(action, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf, email: BOB.email, password: `wrong guess ${i}` }),
        }),
      ),
    );
    const statuses = guesses.map((response) => response.status);
    assert.ok(
      statuses.every((status) => status === 401 || status === 429),
      statuses.join(','),
    );
    const verified = verifiedFailures(BOB.email, attackerIp);
    // Three free tries, plus one per elapsed wait (1 s, 2 s, 4 s…) should the burst outlast them on a slow machine.
    const bound = 3 + Math.floor(Math.log2((Date.now() - started) / 1000 + 1));
    assert.ok(verified <= bound, `only the free tries are checked against the hash; ${verified} of 60 were (bound ${bound})`);
    assert.equal(statuses.filter((status) => status === 401).length, verified);
    const refused = guesses.find((response) => response.status === 429)!;
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'a refusal says when to try again');
    assert.match(await refused.text(), /Try again in \d+ seconds?/);

    const owner = await authorizeWithPassword(new ForwardedBrowser(gw.url, '198.51.100.77'), url(), BOB);
    assert.ok(owner.searchParams.get('code'), 'the owner at another address signs in at once');

    // The attacking address gets in with the right password once it has waited what it was told.
    let landed: Awaited<ReturnType<HttpBrowser['follow']>> | undefined;
    for (let tries = 0; tries < 3 && !landed?.leftTo; tries++) {
      const step = await attacker.follow(url());
      landed = await attacker.submit(step.url, step.page!, interactionAction(step.page!, 'login'), BOB);
      if (landed.response?.status === 429) await waitOutRetryAfter(Number(landed.response.headers.get('retry-after')));
    }
    assert.ok(
      landed?.leftTo && new URL(landed.leftTo).searchParams.get('code'),
      'after the wait the right password works from that address too',
    );
  });

  it('makes each further failure wait longer, even for the right password; success resets', async () => {
    const ip = '203.0.113.88';
    const browser = new ForwardedBrowser(gw.url, ip);
    const statuses: number[] = [];
    let last: Awaited<ReturnType<HttpBrowser['follow']>> | undefined;
    for (let i = 0; i < 4; i++) {
      const step = await browser.follow(url());
      last = await browser.submit(step.url, step.page!, interactionAction(step.page!, 'login'), {
        email: BOB.email,
        password: `wrong ${i}`,
      });
      statuses.push(last.response!.status);
      if (last.response!.status === 429) break;
    }
    assert.deepEqual(statuses, [401, 401, 401, 429], 'three free tries, then a wait');
    assert.equal(last!.response!.headers.get('retry-after'), '1');
    await waitOutRetryAfter(1);
    let step = await browser.follow(url());
    const fourth = await browser.submit(step.url, step.page!, interactionAction(step.page!, 'login'), {
      email: BOB.email,
      password: 'wrong 4',
    });
    assert.equal(fourth.response?.status, 401, 'after the wait the next try is checked');
    step = await browser.follow(url());
    const early = await browser.submit(step.url, step.page!, interactionAction(step.page!, 'login'), BOB);
    assert.equal(early.response?.status, 429, 'the right password also waits');
    const wait = Number(early.response?.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 2, `the wait doubled to 2 s: ${wait}`);
    assert.match(early.page!, /Try again in [12] seconds?/);
    await waitOutRetryAfter(wait);
    assert.ok((await authorizeWithPassword(new ForwardedBrowser(gw.url, ip), url(), BOB)).searchParams.get('code'));
    step = await browser.follow(url());
    const afterReset = await browser.submit(step.url, step.page!, interactionAction(step.page!, 'login'), {
      email: BOB.email,
      password: 'wrong again',
    });
    assert.equal(afterReset.response?.status, 401, 'a success resets the count: free tries again');
  });
});

/** One checked password: admitted attempts get an outcome, refused ones are returned as they are. */
async function tryPassword(
  throttle: LoginThrottle,
  email: string,
  ip: string,
  correct: boolean,
): Promise<AdmittedAttempt | RefusedAttempt> {
  const attempt = await throttle.admit(email, ip);
  if (!attempt.admitted) return attempt;
  if (correct) await throttle.recordSuccess(attempt);
  else await throttle.recordFailure(attempt);
  return attempt;
}

function throttleSuite(name: string, open: () => Promise<KeyValueStore>) {
  describe(`LoginThrottle on ${name}`, () => {
    let store: KeyValueStore;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store.close();
    });

    it('admits one check at a time per (account, address), counted atomically', async () => {
      const throttle = new LoginThrottle(store);
      const answers = await Promise.all(Array.from({ length: 60 }, () => throttle.admit('race@example.com', '192.0.2.10')));
      const admitted = answers.filter((answer): answer is AdmittedAttempt => answer.admitted);
      assert.equal(admitted.length, 1, 'the other 59 are refused as busy');
      assert.ok(answers.every((answer) => answer.admitted || answer.reason === 'busy'));
      await throttle.recordFailure(admitted[0]!);
      assert.equal((await throttle.admit('race@example.com', '192.0.2.10')).admitted, true, 'the slot is free again');
    });

    it('takes an email of any length a form can carry (8 kB), keyed within what the store accepts', async () => {
      const throttle = new LoginThrottle(store);
      const long = `${'x'.repeat(8000)}@example.com`;
      const attempt = await throttle.admit(long, '192.0.2.11');
      assert.equal(attempt.admitted, true);
      await throttle.recordFailure(attempt as AdmittedAttempt);
      assert.equal((await throttle.admit(long, '192.0.2.11')).admitted, true, 'counted under the same key');
    });

    it('caps failures per address across accounts (spraying), leaving other addresses alone', async () => {
      const throttle = new LoginThrottle(store, { perIp: 5 });
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => tryPassword(throttle, `spray${i}@example.com`, '192.0.2.20', false)),
      );
      assert.equal(results.filter((result) => result.admitted).length, 5, 'no more than perIp checks, even in parallel');
      const refused = results.find((result) => !result.admitted) as RefusedAttempt;
      assert.equal(refused.reason, 'address');
      assert.match(refused.message, /from your network/);
      assert.equal((await tryPassword(throttle, 'spray0@example.com', '192.0.2.21', true)).admitted, true);
    });

    it('keeps a per-account ceiling that never blocks an address the account signed in from', async () => {
      const throttle = new LoginThrottle(store, { perAccount: 6, perIp: 3 });
      const owner = 'owner@example.com';
      assert.equal((await tryPassword(throttle, owner, '198.51.100.1', true)).admitted, true, 'the owner signs in from home once');
      // One address cannot reach the ceiling (perIp < perAccount); two can.
      for (const ip of ['192.0.2.31', '192.0.2.32']) {
        for (let i = 0; i < 3; i++) assert.equal((await tryPassword(throttle, owner, ip, false)).admitted, true, `${ip} try ${i}`);
        const more = await tryPassword(throttle, owner, ip, false);
        assert.equal(more.admitted, false, 'each address is held on its own first');
      }
      const stranger = await throttle.admit(owner, '192.0.2.40');
      assert.equal(stranger.admitted, false);
      assert.equal((stranger as RefusedAttempt).reason, 'account');
      const home = await tryPassword(throttle, owner, '198.51.100.1', true);
      assert.equal(home.admitted, true, 'the owner at a known address is never held by the ceiling');
    });

    it('treats an IPv6 /64 as one address, and IPv4-mapped IPv6 as IPv4', async () => {
      assert.equal(placeOf('2001:db8:1:2::1'), placeOf('2001:db8:1:2:ffff::9'));
      assert.notEqual(placeOf('2001:db8:1:2::1'), placeOf('2001:db8:1:3::1'));
      assert.equal(placeOf('::ffff:192.0.2.1'), '192.0.2.1');
      const throttle = new LoginThrottle(store);
      for (let i = 0; i < 3; i++) await tryPassword(throttle, 'v6@example.com', `2001:db8:aa:bb::${i + 1}`, false);
      const rotated = await throttle.admit('v6@example.com', '2001:db8:aa:bb::99');
      assert.equal(rotated.admitted, false, 'rotating addresses inside the /64 does not escape the wait');
      assert.equal((rotated as RefusedAttempt).reason, 'wait');
    });

    it('grows the wait 1 s, 2 s, 4 s… up to the cap', () => {
      const throttle = new LoginThrottle(store, { maxDelaySeconds: 30 });
      assert.deepEqual(
        [1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => throttle.delayAfter(n)),
        [0, 0, 1, 2, 4, 8, 16, 30, 30],
      );
    });
  });
}

throttleSuite('LMDB', async () => new LmdbStore(mkdtempSync(join(tmpdir(), 'gw-throttle-'))));
let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});
throttleSuite('Redis', async () => new RedisStore(redis.url, `throttle-test-${process.pid}:`));
