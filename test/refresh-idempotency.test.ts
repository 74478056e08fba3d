import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALICE } from './helpers/gateway.js';
import { gatewaysOn } from './helpers/gateway-pair.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, exchangeCode, pkcePair, refresh, registerClient, type TokenResult } from './helpers/oauth-client.js';
import { sleep } from './helpers/wait.js';

// A refresh never forks: inside the window a repeat gets the very same successor, on LMDB and on a
// private Redis shared by two gateways (Claude.ai refreshes from two addresses, which may land on
// two replicas). After the window, reuse revokes the grant.
const WINDOW_SECONDS = 2;
const REDIRECT = 'https://chatgpt.com/connector_platform_oauth_redirect';

/** What must be equal for two answers to be the same answer. */
const tokensOf = (result: TokenResult) => ({ status: result.status, access: result.body.access_token, refresh: result.body.refresh_token });

for (const storage of ['lmdb', 'redis'] as const) {
  describe(`token exchanges answered once (${storage})`, () => {
    const pair = gatewaysOn(storage, { tokens: { refreshGracePeriod: `${WINDOW_SECONDS}s` } });
    const { gateways, at } = pair;

    async function signedIn() {
      const client = await registerClient(at(0), { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Twice' });
      const { verifier, challenge } = pkcePair();
      const landed = await authorizeWithPassword(new HttpBrowser(at(0)), authorizeUrl(at(0), { client, challenge, method: 'S256' }), ALICE);
      return { client, code: landed.searchParams.get('code')!, verifier };
    }

    async function tokensFor() {
      const { client, code, verifier } = await signedIn();
      const tokens = await exchangeCode(at(0), client, code, verifier);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      return { client, refreshToken: tokens.body.refresh_token! };
    }

    it('gives the same successor to the same refresh token three times inside the window', async () => {
      const { client, refreshToken } = await tokensFor();
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(tokensOf(await refresh(at(i), client, refreshToken)));
      assert.equal(answers[0]!.status, 200);
      assert.ok(answers[0]!.refresh && answers[0]!.refresh !== refreshToken, 'rotated');
      assert.deepEqual(answers[1], answers[0]);
      assert.deepEqual(answers[2], answers[0]);
      // The one successor carries on, and the first token still repeats the same answer after it was used.
      const next = await refresh(at(1), client, answers[0]!.refresh!);
      assert.equal(next.status, 200, JSON.stringify(next.body));
      assert.deepEqual(tokensOf(await refresh(at(0), client, refreshToken)), answers[0]);
    });

    it('gives concurrent refreshes the same successor, and the grant lives on', async () => {
      const { client, refreshToken } = await tokensFor();
      const answers = (await Promise.all([0, 1, 2, 3].map((i) => refresh(at(i), client, refreshToken)))).map(tokensOf);
      assert.equal(answers[0]!.status, 200);
      for (const answer of answers) assert.deepEqual(answer, answers[0]);
      assert.equal((await refresh(at(0), client, answers[0]!.refresh!)).status, 200);
    });

    it('revokes the grant when the used refresh token comes back after the window', async () => {
      const { client, refreshToken } = await tokensFor();
      const successor = await refresh(at(0), client, refreshToken);
      assert.equal((await refresh(at(1), client, refreshToken)).status, 200, 'a repeat inside the window');
      await sleep(WINDOW_SECONDS * 1000 + 1200);
      const late = await refresh(at(1), client, refreshToken);
      assert.equal(late.status, 400);
      assert.equal(late.body.error, 'invalid_grant');
      assert.equal((await refresh(at(0), client, successor.body.refresh_token!)).status, 400, 'the successor died with the grant');
    });

    it('answers a code exchanged twice, or at once, with the same tokens, and never a wrong verifier', async () => {
      for (const together of [false, true]) {
        const { client, code, verifier } = await signedIn();
        const exchange = (i: number) => exchangeCode(at(i), client, code, verifier);
        const answers = together ? await Promise.all([0, 1, 2].map(exchange)) : [await exchange(0), await exchange(1), await exchange(2)];
        assert.equal(answers[0]!.status, 200, JSON.stringify(answers[0]!.body));
        for (const answer of answers) assert.deepEqual(tokensOf(answer), tokensOf(answers[0]!));
        const stolen = await exchangeCode(at(0), client, code, pkcePair().verifier);
        assert.equal(stolen.status, 400, 'the code without its verifier gets nothing');
        assert.equal((await refresh(at(1), client, answers[0]!.body.refresh_token!)).status, 200, 'and revokes nothing');
      }
    });

    it('logs a repeat as token.replayed, not as tokens issued', async () => {
      const { client, refreshToken } = await tokensFor();
      const issuedBefore = gateways.map((gw) => gw.logs.lines.filter((line) => line.includes('"event":"token.issued"')).length);
      await refresh(at(0), client, refreshToken);
      await refresh(at(0), client, refreshToken);
      const lines = gateways[0]!.logs.lines;
      assert.equal(lines.filter((line) => line.includes('"event":"token.issued"')).length, issuedBefore[0]! + 1);
      assert.ok(lines.some((line) => line.includes('"event":"token.replayed"')));
      assert.ok(!lines.some((line) => line.includes(refreshToken)), 'no token in the log');
    });
  });
}
