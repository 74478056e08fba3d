import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCE_SCOPES, SUPPORTED_SCOPES } from '../../src/authz/scopes.js';
import { bearerChallenge, insufficientScopeChallenge } from '../../src/mcp/auth/challenge.js';

const METADATA = 'https://gw.example/.well-known/oauth-protected-resource/mcp/demo';

describe('bearer challenges', () => {
  it('answers a missing or invalid token with 401, the metadata URL and the scopes a call needs', () => {
    const missing = bearerChallenge(METADATA, ['mcp']);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers['WWW-Authenticate'], `Bearer resource_metadata="${METADATA}", scope="mcp"`);
    const invalid = bearerChallenge(METADATA, ['mcp'], { code: 'invalid_token', description: 'bad "sig" \\ here' });
    assert.equal(invalid.status, 401);
    assert.match(invalid.headers['WWW-Authenticate'], /error="invalid_token", error_description="bad sig {2}here"$/);
  });

  it('answers a token lacking a scope with 403 insufficient_scope that lists every scope needed, held ones too', () => {
    const refusal = insufficientScopeChallenge(METADATA, ['mcp', 'mcp:write'], 'openid mcp');
    assert.equal(refusal?.status, 403);
    assert.equal(
      refusal?.headers['WWW-Authenticate'],
      `Bearer resource_metadata="${METADATA}", scope="mcp mcp:write", error="insufficient_scope", ` +
        'error_description="the token lacks the mcp:write scope"',
    );
    assert.deepEqual(refusal?.body, { error: 'insufficient_scope', error_description: 'the token lacks the mcp:write scope' });
    assert.match(insufficientScopeChallenge(METADATA, ['a', 'b'], undefined)?.body.error_description ?? '', /lacks the a and b scopes/);
  });

  it('lets a token with every needed scope through', () => {
    assert.equal(insufficientScopeChallenge(METADATA, ['mcp'], 'offline_access mcp'), undefined);
    assert.equal(insufficientScopeChallenge(METADATA, [], undefined), undefined);
  });

  it('lists offline_access at the authorization server only, never as a resource scope', () => {
    assert.ok(SUPPORTED_SCOPES.includes('offline_access'));
    assert.deepEqual(RESOURCE_SCOPES, ['mcp']);
  });
});
