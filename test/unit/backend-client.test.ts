import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backendClientFor,
  GATEWAY_CLIENT_CAPABILITIES,
  MCP_APP_MIME_TYPE,
  MCP_APPS_EXTENSION,
} from '../../src/mcp/process/backend-client.js';
import { GATEWAY_CLIENT_INFO } from '../../src/mcp/protocol.js';

const claudeAi = {
  capabilities: {
    sampling: {},
    extensions: { [MCP_APPS_EXTENSION]: { mimeTypes: [MCP_APP_MIME_TYPE] }, 'com.example/other': { level: 2 } },
    experimental: { anything: { nested: [1, 2] } },
  },
  clientInfo: { name: 'claude-ai', version: '0.1.0', title: 'Claude' },
};

describe('what a backend process is initialized with', () => {
  it('by default declares what the gateway relays today and the MCP Apps extension', () => {
    assert.deepEqual(GATEWAY_CLIENT_CAPABILITIES, {
      sampling: {},
      elicitation: {},
      roots: { listChanged: true },
      extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } },
    });
  });

  for (const isolation of ['shared', 'per-user'] as const) {
    it(`initializes a ${isolation} process as the gateway, whoever opens it`, () => {
      for (const opener of [undefined, claudeAi, { capabilities: {}, clientInfo: { name: 'plain', version: '1' } }]) {
        assert.deepEqual(backendClientFor({ isolation }, opener), {
          capabilities: GATEWAY_CLIENT_CAPABILITIES,
          clientInfo: GATEWAY_CLIENT_INFO,
        });
      }
    });

    it(`initializes a ${isolation} process with the server's clientCapabilities when set, as written`, () => {
      const clientCapabilities = { roots: {}, extensions: { 'com.example/x': {} } };
      assert.deepEqual(backendClientFor({ isolation, clientCapabilities }, claudeAi), {
        capabilities: clientCapabilities,
        clientInfo: GATEWAY_CLIENT_INFO,
      });
      assert.deepEqual(backendClientFor({ isolation, clientCapabilities: {} }).capabilities, {}, 'none at all, if so configured');
    });
  }

  it('initializes a per-session process as its own client: its capabilities, extensions and clientInfo untouched', () => {
    assert.deepEqual(backendClientFor({ isolation: 'per-session' }, claudeAi), claudeAi);
    const plain = { capabilities: {}, clientInfo: { name: 'plain', version: '1' } };
    assert.deepEqual(backendClientFor({ isolation: 'per-session' }, plain), plain, 'no extension the client did not declare');
  });

  it('replaces what a per-session client sent malformed rather than pass on what the backend would refuse', () => {
    for (const broken of [
      {},
      { capabilities: 'all', clientInfo: 'me' },
      { capabilities: ['sampling'], clientInfo: { name: 'no version' } },
      { capabilities: null, clientInfo: { name: 1, version: '1' } },
    ]) {
      assert.deepEqual(backendClientFor({ isolation: 'per-session' }, broken), { capabilities: {}, clientInfo: GATEWAY_CLIENT_INFO });
    }
  });

  it('without an opening client, initializes a per-session process with the declared set', () => {
    assert.deepEqual(backendClientFor({ isolation: 'per-session' }).capabilities, GATEWAY_CLIENT_CAPABILITIES);
  });

  it('hands out copies: a backend client changed later never changes the default', () => {
    const first = backendClientFor({ isolation: 'shared' });
    (first.capabilities.extensions as Record<string, unknown>)[MCP_APPS_EXTENSION] = { mimeTypes: [] };
    first.clientInfo.name = 'changed';
    assert.deepEqual(backendClientFor({ isolation: 'shared' }), {
      capabilities: GATEWAY_CLIENT_CAPABILITIES,
      clientInfo: GATEWAY_CLIENT_INFO,
    });
  });
});
