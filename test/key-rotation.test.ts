import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { loadSigningKeys, rotateSigningKeys } from '../src/authz/keys.js';
import { packageRoot } from '../src/paths.js';
import { LmdbStore } from '../src/storage/lmdb-store.js';
import { ALICE, spawnGateway, testConfigJson, type GatewayProcess } from './helpers/gateway.js';
import { McpTestClient } from './helpers/mcp-client.js';
import { authorizeWithPassword, HttpBrowser } from './helpers/http-browser.js';
import { authorizeUrl, decodeJwt, exchangeCode, pkcePair, refresh, registerClient, type RegisteredClient } from './helpers/oauth-client.js';
import { sleep } from './helpers/wait.js';

const run = promisify(execFile);

describe('signing key rotation', () => {
  let gateway: GatewayProcess | undefined;
  after(async () => {
    await gateway?.kill();
  });

  it('rotate-keys signs new tokens with a new key while tokens signed by the old one keep working', async () => {
    const config = await testConfigJson();
    const dir = mkdtempSync(join(tmpdir(), 'gw-rot-'));
    gateway = await spawnGateway(config, dir);
    const url = gateway.url;
    const client: RegisteredClient = await registerClient(url, {
      redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'],
      token_endpoint_auth_method: 'none',
    });
    const { verifier, challenge } = pkcePair();
    const landed = await authorizeWithPassword(new HttpBrowser(url), authorizeUrl(url, { client, challenge, method: 'S256' }), ALICE);
    const tokens = (await exchangeCode(url, client, landed.searchParams.get('code')!, verifier)).body;
    const oldKid = decodeJwt(tokens.access_token!).header.kid;

    await gateway.kill('SIGTERM');
    const configFile = join(dir, 'gateway.json');
    writeFileSync(configFile, JSON.stringify(config));
    const { stdout } = await run(process.execPath, [resolve(packageRoot, 'dist/src/cli/main.js'), 'rotate-keys', '--config', configFile]);
    assert.match(stdout, /new signing key .*; 1 older key\(s\) still published/);
    gateway = await spawnGateway(config, dir);

    const { keys } = (await (await fetch(`${url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    assert.equal(keys.length, 2);
    assert.ok(
      keys.some((k) => k.kid === oldKid),
      'the old key is still published',
    );
    const old = new McpTestClient(`${url}/mcp/demo`, tokens.access_token!);
    await old.initialize();
    assert.equal(
      (await old.callTool('echo', { text: 'old key' })).result?.content?.[0]?.text,
      'old key',
      'a token signed with the old key still works',
    );
    const refreshed = await refresh(url, client, tokens.refresh_token!);
    assert.equal(refreshed.status, 200);
    const newKid = decodeJwt(refreshed.body.access_token!).header.kid;
    assert.notEqual(newKid, oldKid);
    assert.equal(newKid, keys[0]!.kid, 'the newest key signs');
  });

  it('stops publishing a retired key once nothing it signed can be valid', async () => {
    const store = new LmdbStore(mkdtempSync(join(tmpdir(), 'gw-keys-')));
    const [first] = await loadSigningKeys(store, 1);
    const rotated = await rotateSigningKeys(store, 1);
    assert.equal(rotated.length, 2);
    assert.equal(rotated[1]!.jwk.kid, first!.jwk.kid);
    // A token signed with the retired key lives at most 1 s: once that has passed, it is not published.
    await sleep(1100);
    const later = await loadSigningKeys(store, 1);
    assert.deepEqual(
      later.map((k) => k.jwk.kid),
      [rotated[0]!.jwk.kid],
    );
    await store.close();
  });
});
