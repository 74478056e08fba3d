import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openResponse, replayLookupId, sealResponse, type TokenExchangeRequest } from '../../src/authz/token-replay-seal.js';

const request: TokenExchangeRequest = {
  grantType: 'authorization_code',
  clientId: 'client-1',
  presented: 'the-code',
  params: { code_verifier: 'verifier', redirect_uri: 'https://chatgpt.com/cb', resource: undefined, scope: 'mcp' },
};
const response = { access_token: 'at', refresh_token: 'rt', expires_in: 3600 };

describe('token replay seal', () => {
  it('opens for the same request, whatever the order of its parameters', () => {
    const sealed = sealResponse(request, response);
    const reordered = { ...request, params: { scope: 'mcp', redirect_uri: 'https://chatgpt.com/cb', code_verifier: 'verifier' } };
    assert.deepEqual(openResponse(reordered, sealed), response);
  });

  it('keeps neither the tokens nor the presented code readable', () => {
    const sealed = sealResponse(request, response);
    const id = replayLookupId(request);
    for (const secret of ['the-code', '"at"', '"rt"']) {
      assert.ok(!Buffer.from(sealed, 'base64url').toString('latin1').includes(secret));
      assert.ok(!id.includes(secret));
    }
  });

  it('does not open for a request that differs in any parameter, client or token', () => {
    const sealed = sealResponse(request, response);
    assert.equal(openResponse({ ...request, params: { ...request.params, code_verifier: 'guess' } }, sealed), undefined);
    assert.equal(openResponse({ ...request, clientId: 'client-2' }, sealed), undefined);
    assert.equal(openResponse({ ...request, presented: 'other-code' }, sealed), undefined);
    assert.equal(openResponse(request, 'not sealed'), undefined);
  });

  it('finds repeats by token and client only, so a differing repeat still meets the first answer', () => {
    const other = { ...request, params: { code_verifier: 'guess' } };
    assert.equal(replayLookupId(other), replayLookupId(request));
    assert.notEqual(replayLookupId({ ...request, clientId: 'client-2' }), replayLookupId(request));
    assert.notEqual(replayLookupId({ ...request, grantType: 'refresh_token' }), replayLookupId(request));
  });
});
