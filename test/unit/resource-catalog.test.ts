import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResourceCatalog } from '../../src/authz/resources.js';

describe('resource catalog', () => {
  const catalog = new ResourceCatalog('https://mcp.example.com', ['docs', 'github']);

  it('names one server per resource URL, whatever the trailing slash or scheme and host case', () => {
    assert.equal(catalog.serverFor('https://mcp.example.com/mcp/docs'), 'docs');
    assert.equal(catalog.serverFor('https://mcp.example.com/mcp/docs/'), 'docs');
    assert.equal(catalog.serverFor('HTTPS://MCP.Example.com/mcp/github'), 'github');
    assert.equal(catalog.canonical('https://mcp.example.com:443/mcp/docs'), 'https://mcp.example.com/mcp/docs');
  });

  it('refuses what names no server: another path, a query, a fragment, credentials, not a URL', () => {
    for (const indicator of [
      'https://mcp.example.com/mcp/Docs',
      'https://mcp.example.com/mcp/docs?x=1',
      'https://mcp.example.com/mcp/docs#x',
      'https://user:pw@mcp.example.com/mcp/docs',
      'https://other.example.com/mcp/docs',
      'not a url',
    ]) {
      assert.equal(catalog.canonical(indicator), undefined, indicator);
    }
  });

  it('has a sole resource only when exactly one server is configured', () => {
    assert.equal(catalog.soleResource, undefined);
    assert.equal(new ResourceCatalog('https://mcp.example.com', ['docs']).soleResource, 'https://mcp.example.com/mcp/docs');
  });
});
