import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientProfiles, profileOf } from '../../src/clients/client-profiles.js';

const byRedirect = (...redirectUris: string[]) => profileOf({ redirectUris })?.id;
const byDocument = (clientId: string) => profileOf({ clientId })?.id;

describe('client profiles', () => {
  it('MCP Inspector 2.x opened from 127.0.0.1:6274 is the Inspector, not mcp-remote', () => {
    assert.equal(byRedirect('http://127.0.0.1:6274/oauth/callback'), 'inspector');
    assert.equal(byRedirect('http://localhost:6274/oauth/callback'), 'inspector');
    assert.equal(byRedirect('http://127.0.0.1:51234/oauth/callback'), 'mcp-remote');
  });

  it('recognises each client by its metadata document, exact URLs before per-connector templates', () => {
    assert.equal(byDocument('https://claude.ai/oauth/mcp-oauth-client-metadata'), 'claude');
    assert.equal(byDocument('https://claude.ai/oauth/claude-code-client-metadata'), 'claude-code');
    assert.equal(byDocument('https://vscode.dev/oauth/client-metadata.json'), 'vscode');
    assert.equal(byDocument('https://chatgpt.com/oauth/client.json'), 'chatgpt');
    assert.equal(byDocument('https://chatgpt.com/oauth/cb-7f3e/client.json'), 'chatgpt');
    assert.equal(byDocument('https://chatgpt.com/oauth/codex/client.json'), 'codex');
    assert.equal(byDocument('https://chatgpt.com/oauth/codex/Ab12_x-y/client.json'), 'codex');
    assert.equal(byDocument('https://chatgpt.com/oauth/a/b/c/client.json'), undefined);
  });

  it('recognises DCR registrations of Claude Code, VS Code and Codex by their callbacks', () => {
    assert.equal(byRedirect('http://localhost:3118/callback'), 'claude-code');
    assert.equal(byRedirect('http://127.0.0.1:33418/', 'https://vscode.dev/redirect'), 'vscode');
    assert.equal(byRedirect('http://127.0.0.1:63546/callback/6MFBM1In3Ey-'), 'codex');
  });

  it('every profile says when it was last confirmed and where its facts come from; an unverified one says why', () => {
    for (const profile of clientProfiles) {
      assert.match(profile.lastConfirmed, /^\d{4}-\d{2}-\d{2}$/, profile.id);
      assert.ok(profile.does.length > 20, profile.id);
      assert.ok(profile.sources.length > 0 && profile.sources.every((entry) => entry.fact && entry.source), profile.id);
      assert.equal(typeof profile.verified, 'boolean', profile.id);
      if (!profile.verified) assert.ok((profile.unverifiedBecause ?? '').length > 20, `${profile.id} says why it is unverified`);
    }
  });
});
