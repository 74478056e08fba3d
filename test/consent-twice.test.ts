import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { open } from 'lmdb';
import { ALICE, BOB } from './helpers/gateway.js';
import { gatewaysOn } from './helpers/gateway-pair.js';
import { authorizeWithPassword, HttpBrowser, interactionAction } from './helpers/http-browser.js';
import { authorizeUrl, exchangeCode, pkcePair, registerClient, type RegisteredClient } from './helpers/oauth-client.js';
import { sleep } from './helpers/wait.js';
import { CONSENT_REPEAT_WINDOW } from '../src/authz/consent-once.js';

// A consent form approved twice (a double click, a browser or client retrying the POST) gives one
// grant and one authorization code: the repeat is answered with the first approval's redirect, on
// LMDB and on a Redis shared by two replicas (the repeat may land on the other one).
const REDIRECT = 'https://chatgpt.com/connector_platform_oauth_redirect';

interface ConsentForm {
  browser: HttpBrowser;
  client: RegisteredClient;
  verifier: string;
  /** The form's path, /interaction/<uid>/confirm. */
  action: string;
  csrf: string;
}

for (const storage of ['lmdb', 'redis'] as const) {
  describe(`a consent form approved twice (${storage})`, () => {
    const pair = gatewaysOn(storage);
    const { gateways, addresses, at } = pair;

    /** Grants saved for this client, read from the store itself. */
    async function grantCount(clientId: string): Promise<number> {
      const isForClient = (payload: unknown) => (payload as { clientId?: string } | undefined)?.clientId === clientId;
      const redis = pair.redis;
      if (!redis) {
        const db = open<{ v: unknown }, string>({ path: gateways[0]!.config.storage.slice('lmdb:'.length), readOnly: true });
        return [...db.getRange({ start: 'oidc:Grant:', end: 'oidc:Grant;' })].filter((entry) => isForClient(entry.value.v)).length;
      }
      const client = new Redis(redis.url);
      try {
        const keys = await client.keys('mcpgw:oidc:Grant:*');
        const values = keys.length ? await client.mget(keys) : [];
        return values.filter((value) => value && isForClient(JSON.parse(value))).length;
      } finally {
        client.disconnect();
      }
    }

    /** Signs Alice in and stops at the consent page of a new client. */
    async function consentForm(): Promise<ConsentForm> {
      const client = await registerClient(at(0), { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Twice' });
      const { verifier, challenge } = pkcePair();
      const browser = new HttpBrowser(at(0), addresses.slice(1));
      let step = await browser.follow(authorizeUrl(at(0), { client, challenge, method: 'S256' }));
      step = await browser.submit(step.url, step.page!, interactionAction(step.page!, 'login'), ALICE);
      const page = step.page ?? '';
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
      assert.ok(csrf, `a consent page:\n${page.slice(0, 500)}`);
      return { browser, client, verifier, action: interactionAction(page, 'confirm'), csrf };
    }

    /** The approval as the browser posts it, to gateway `index`, not followed. */
    async function approve(form: ConsentForm, index: number): Promise<Response> {
      const body = new URLSearchParams({ csrf: form.csrf, decision: 'approve' });
      const headers = { 'content-type': 'application/x-www-form-urlencoded', origin: at(0) };
      return form.browser.request(`${at(index)}${form.action}`, { method: 'POST', headers, body });
    }

    /** Where following an answer's redirect leaves the gateway for (the client's redirect URI), or the page it stops at. */
    async function landing(form: ConsentForm, answer: Response): Promise<URL> {
      const location = answer.headers.get('location');
      assert.ok(answer.status === 303 && location, `a redirect, not ${answer.status}: ${await answer.text()}`);
      const next = new URL(location, at(0));
      if (next.toString().startsWith(REDIRECT)) return next;
      const step = await form.browser.follow(next.toString());
      assert.ok(step.leftTo, `the client's redirect URI, not ${step.response?.status} at ${step.url}:\n${step.page?.slice(0, 600)}`);
      return new URL(step.leftTo);
    }

    async function oneTokenSet(form: ConsentForm, code: string): Promise<void> {
      const tokens = await exchangeCode(at(0), form.client, code, form.verifier);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(await grantCount(form.client.client_id), 1, 'one grant for Alice and this client');
    }

    it('approves once when the form is posted twice at once, and both answers lead to the same code', async () => {
      const form = await consentForm();
      const answers = await Promise.all([approve(form, 0), approve(form, 1)]);
      const landed = [await landing(form, answers[0]!), await landing(form, answers[1]!)];
      for (const url of landed) assert.equal(`${url.origin}${url.pathname}`, REDIRECT);
      const code = landed[0]!.searchParams.get('code')!;
      assert.ok(code);
      assert.equal(landed[1]!.searchParams.get('code'), code, 'the same code');
      await oneTokenSet(form, code);
    });

    it('answers a repeat after the person was sent back to the client with the same code', async () => {
      const form = await consentForm();
      const first = await landing(form, await approve(form, 0));
      const repeat = await landing(form, await approve(form, 1));
      const code = first.searchParams.get('code')!;
      assert.ok(code);
      assert.equal(repeat.toString(), first.toString(), 'the same redirect, code and state');
      await oneTokenSet(form, code);
    });

    // The 10 s window must pass on the clock; one storage shows it (the grant is found the same way on both).
    it('reuses the approved grant for a repeat after the window, before the person went on', { skip: storage !== 'lmdb' }, async () => {
      const form = await consentForm();
      assert.equal((await approve(form, 0)).status, 303);
      await sleep(CONSENT_REPEAT_WINDOW * 1000 + 500);
      const code = (await landing(form, await approve(form, 1))).searchParams.get('code')!;
      await oneTokenSet(form, code);
    });

    it('never gives the code to a browser that did not start the sign-in, nor to another person', async () => {
      const form = await consentForm();
      const first = await landing(form, await approve(form, 0));
      const code = first.searchParams.get('code')!;
      const stranger = { ...form, browser: new HttpBrowser(at(0), addresses.slice(1)) };
      const answer = await approve(stranger, 1);
      assert.ok(answer.status >= 400, `the form refused, not ${answer.status}`);
      assert.ok(!(await answer.text()).includes(code) && !answer.headers.get('location'), 'no code, no redirect');
      // Bob, signed in on his own browser, resuming Alice's authorization by its id.
      const bob = new HttpBrowser(at(0), addresses.slice(1));
      const client = await registerClient(at(0), { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
      await authorizeWithPassword(bob, authorizeUrl(at(0), { client, challenge: pkcePair().challenge, method: 'S256' }), BOB);
      const uid = form.action.split('/')[2]!;
      for (const browser of [bob, stranger.browser]) {
        const resumed = await browser.request(`${at(1)}/authorize/${uid}`);
        assert.ok(resumed.status >= 400, `the resumption refused, not ${resumed.status}`);
        assert.ok(!(await resumed.text()).includes(code) && !resumed.headers.get('location'), 'no code, no redirect');
      }
    });
  });
}
