import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { ALICE, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { launchChromium, signInAndApprove } from './helpers/chromium.js';
import { runConformance } from './helpers/conformance.js';
import { registerClient } from './helpers/oauth-client.js';
import { freePort } from './helpers/ports.js';

describe('official MCP conformance suite, authorization role', { timeout: 420_000 }, () => {
  let gw: TestGateway;
  let browser: Browser;
  before(async () => {
    [gw, browser] = await Promise.all([startTestGateway(), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('passes both scenarios (metadata, authorization-code grant) with the login done in Chromium', async () => {
    const port = await freePort();
    const client = await registerClient(gw.url, {
      redirect_uris: [`http://127.0.0.1:${port}/callback`],
      token_endpoint_auth_method: 'none',
      client_name: 'MCP conformance suite',
    });
    const run = runConformance([
      'authorization',
      '--url',
      gw.url,
      '--client-id',
      client.client_id,
      '--resource',
      `${gw.url}/mcp/demo`,
      '--port',
      String(port),
    ]);
    try {
      const authorizeLine = await run.waitForLine(new RegExp(`^${gw.url.replace(/[.]/g, '\\.')}/authorize\\?`));
      await run.waitForLine(/Callback server started/);
      const page = await browser.newPage();
      await page.goto(authorizeLine);
      await signInAndApprove(page, ALICE);
      const code = await run.exit;
      await page.close();
      const output = run.output();
      process.stdout.write(`${output.split('=== SUMMARY ===')[1] ?? output}\n`);
      assert.equal(code, 0, output);
      assert.match(output, /authorization-server-metadata-endpoint: 2 passed, 0 failed/);
      assert.match(output, /authorization-code-grant: 1 passed, 0 failed/);
      assert.match(output, /Total: 3 passed, 0 failed/);
    } finally {
      run.child.kill();
    }
  });
});
