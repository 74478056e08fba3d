import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageTextOf } from '../../src/web/error-pages.js';
import { GatewayError, RateLimited, StorageUnavailable, asGatewayError } from '../../src/web/errors.js';
import { oauthErrorBody, oauthErrorHeaders } from '../../src/web/oauth-errors.js';

describe('one GatewayError, one rendering per surface', () => {
  it('OAuth JSON: error, error_description, then the error data; no-store plus its own headers', () => {
    const limited = new RateLimited('too many token requests from this address', 42);
    assert.deepEqual(oauthErrorBody(limited), {
      error: 'rate_limited',
      error_description: 'too many token requests from this address; retry in 42 seconds',
      retry_after: 42,
    });
    assert.deepEqual(oauthErrorHeaders(limited), { 'Cache-Control': 'no-store', 'Retry-After': '42' });
  });

  it('storage outage: the same 503 and Retry-After on the JSON and the page surface', () => {
    const outage = new StorageUnavailable();
    assert.equal(outage.status, 503);
    assert.deepEqual(oauthErrorBody(outage), {
      error: 'temporarily_unavailable',
      error_description: 'storage is unreachable; try again shortly',
    });
    assert.equal(pageTextOf(outage).heading, 'Temporarily unavailable');
  });

  it('pages: the rate-limit page says what and how long, the client-error page shows the message', () => {
    const page = pageTextOf(new RateLimited('there were too many sign-in attempts from your network', 90));
    assert.equal(page.heading, 'Too many sign-in attempts');
    assert.equal(page.message, 'There were too many sign-in attempts from your network.');
    assert.equal(page.advice, 'Wait 2 minutes and try again.');
    const outOfStep = pageTextOf(
      new GatewayError(400, 'invalid_request', 'this form belongs to a step of the sign-in that is already over'),
    );
    assert.match(outOfStep.message, /could not be completed: this form belongs to a step of the sign-in that is already over\.$/);
  });

  it('an unexpected error never shows its message', () => {
    const error = asGatewayError(new Error('ECONNRESET at 10.0.0.7:6379'));
    assert.equal(error.status, 500);
    assert.doesNotMatch(oauthErrorBody(error).error_description as string, /10\.0\.0\.7/);
    assert.doesNotMatch(pageTextOf(error).message, /10\.0\.0\.7/);
  });
});
