import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { absentIdentityClaims, withUserInfoClaims } from '../../src/upstream/oidc-claims.js';

describe('claims an ID token may leave to UserInfo', () => {
  it('names email, email_verified and the configured groups claim when absent', () => {
    assert.deepEqual(absentIdentityClaims({ sub: 'a' }), ['email', 'email_verified']);
    assert.deepEqual(absentIdentityClaims({ sub: 'a' }, 'roles'), ['email', 'email_verified', 'roles']);
    assert.deepEqual(absentIdentityClaims({ sub: 'a', email: 'a@x', email_verified: false, roles: [] }, 'roles'), []);
    assert.deepEqual(absentIdentityClaims({ sub: 'a', email: 'a@x', email_verified: null }), ['email_verified']);
  });

  it('fills in only what the ID token lacks: its own signed values win', () => {
    const merged = withUserInfoClaims(
      { sub: 'a', email: 'id@x', name: 'From ID token' },
      { sub: 'a', email: 'userinfo@x', email_verified: true, groups: ['g'], name: 'From UserInfo' },
      'groups',
    );
    assert.deepEqual(merged, { sub: 'a', email: 'id@x', name: 'From ID token', email_verified: true, groups: ['g'] });
  });

  it('keeps a claim absent when UserInfo lacks it too', () => {
    assert.deepEqual(withUserInfoClaims({ sub: 'a' }, { sub: 'a', email: 'a@x' }), { sub: 'a', email: 'a@x' });
  });
});
