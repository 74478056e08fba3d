import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAssertionProblem, MAX_ASSERTION_LIFETIME, type AssertionFacts } from '../../src/authz/client-authentication.js';

const ID = 'https://chatgpt.com/oauth/client.json';
const ISSUER = 'https://gateway.example.com';
const NOW = 1_800_000_000;

const facts = (
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  authMethod = 'private_key_jwt',
): AssertionFacts => ({
  claims: { iss: ID, sub: ID, aud: `${ISSUER}/token`, exp: NOW + 60, jti: 'j', ...claims },
  header: { alg: 'RS256', kid: 'k1', ...header },
  clientId: ID,
  authMethod,
  issuer: ISSUER,
  tokenEndpoint: `${ISSUER}/token`,
  now: NOW,
  clockTolerance: 15,
});

describe('client assertion rules', () => {
  it('accepts the token endpoint or the issuer as aud, as a string or a list of them', () => {
    for (const aud of [`${ISSUER}/token`, ISSUER, [ISSUER], [ISSUER, `${ISSUER}/token`]]) {
      assert.equal(clientAssertionProblem(facts({ aud })), undefined, JSON.stringify(aud));
    }
  });

  it('refuses any other aud, or a list with another one in it', () => {
    for (const aud of [`${ISSUER}/revoke`, `${ISSUER}/`, 'https://other.example/token', [], [ISSUER, 'https://other.example'], undefined]) {
      assert.match(clientAssertionProblem(facts({ aud })) ?? '', /aud/, JSON.stringify(aud));
    }
  });

  it('requires iss and sub to be the client_id', () => {
    assert.match(clientAssertionProblem(facts({ sub: 'someone-else' })) ?? '', /sub/);
    assert.match(clientAssertionProblem(facts({ iss: 'someone-else' })) ?? '', /iss/);
  });

  it('refuses an exp further ahead than a single request needs', () => {
    assert.equal(clientAssertionProblem(facts({ exp: NOW + MAX_ASSERTION_LIFETIME + 15 })), undefined);
    assert.match(clientAssertionProblem(facts({ exp: NOW + MAX_ASSERTION_LIFETIME + 16 })) ?? '', /exp/);
    assert.match(clientAssertionProblem(facts({ exp: undefined })) ?? '', /exp/);
  });

  it('refuses symmetric and unsigned algorithms for private_key_jwt only', () => {
    for (const alg of ['HS256', 'none', undefined]) {
      assert.match(clientAssertionProblem(facts({}, { alg })) ?? '', /asymmetric/, String(alg));
    }
    assert.equal(clientAssertionProblem(facts({}, { alg: 'ES256' })), undefined);
    assert.equal(clientAssertionProblem(facts({}, { alg: 'HS256' }, 'client_secret_jwt')), undefined);
  });
});
