import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { packageRoot } from '../src/paths.js';
import { signedInPage } from './helpers/account-gateway.js';
import { textOf } from './helpers/bridge-fixture.js';
import { launchChromium } from './helpers/chromium.js';
import { ALICE, BOB, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { obtainTokens } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

const hash = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * A person's secret from the account page to their own process, in headless Chromium: saved on
 * the page, it reaches the process's environment (the fixture answers with a hash of it);
 * replaced, the process restarts with the new one; deleted, the call says where to set it.
 */
describe('a secret set on the account page reaches that person’s process', { timeout: 120_000 }, () => {
  let gw: TestGateway;
  let browser: Browser;
  let alice: { context: BrowserContext; page: Page };
  let mcp: McpTestClient;

  before(async () => {
    [gw, browser] = await Promise.all([
      startTestGateway({
        secretsKey: randomBytes(32).toString('base64'),
        mcpServers: {
          tokened: {
            command: process.execPath,
            args: [resolve(packageRoot, 'dist/test/fixtures/personal-data-server.js')],
            env: { API_TOKEN: '${secret.API_TOKEN}' },
            secrets: { API_TOKEN: { label: 'API token', required: true } },
          },
        },
      }),
      launchChromium(),
    ]);
    alice = await signedInPage(browser, gw.url, ALICE, '/account?server=tokened');
    mcp = new McpTestClient(`${gw.url}/mcp/tokened`, (await obtainTokens(gw.url, 'tokened', ALICE)).access_token);
    await mcp.initialize();
  });
  after(async () => {
    await alice?.context.close();
    await browser?.close();
    await gw?.close();
  });

  const startedWith = async () => {
    const { result } = await mcp.request('tools/call', { name: 'started_with', arguments: {} });
    return result.isError ? { missing: textOf(result)! } : (JSON.parse(textOf(result)!) as { pid: number; tokenHash: string });
  };

  async function save(value: string, button: 'Save' | 'Replace'): Promise<void> {
    await alice.page.goto(`${gw.url}/account#tokened`);
    await alice.page.getByLabel('API token').fill(value);
    await alice.page.getByRole('button', { name: `${button} API token` }).click();
    await alice.page.getByText('Saved: API token for tokened.').waitFor();
  }

  it('is explained before it is set, used once set, restarts the process when replaced, and is explained again once deleted', async () => {
    const before = await startedWith();
    assert.ok('missing' in before && before.missing.includes(`${gw.url}/account`), JSON.stringify(before));

    await save('alice-first', 'Save');
    const first = await startedWith();
    assert.ok('tokenHash' in first);
    assert.equal(first.tokenHash, hash('alice-first'));

    await save('alice-second', 'Replace');
    const second = await waitFor(
      async () => {
        const now = await startedWith();
        return 'tokenHash' in now && now.tokenHash === hash('alice-second') ? now : undefined;
      },
      { message: 'the process restarted with the replaced secret' },
    );
    assert.notEqual(second.pid, first.pid, 'a new process');

    await alice.page.getByRole('button', { name: 'Delete API token' }).click();
    await alice.page.getByText('Deleted: API token for tokened.').waitFor();
    const after = await startedWith();
    assert.ok('missing' in after && after.missing.includes(`${gw.url}/account`), JSON.stringify(after));
  });

  it("is never another person's: Bob's process does not get Alice's secret", async () => {
    await save('alice-again', 'Save');
    const bob = new McpTestClient(`${gw.url}/mcp/tokened`, (await obtainTokens(gw.url, 'tokened', BOB)).access_token);
    await bob.initialize();
    const { result } = await bob.request('tools/call', { name: 'started_with', arguments: {} });
    assert.equal(result.isError, true, 'Bob has set no token: his call says where to set it');
    assert.match(textOf(result)!, /\/account/);
  });
});
