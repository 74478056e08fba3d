#!/usr/bin/env node
// The small stdio MCP server the built-in demo puts behind the gateway.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'gateway-demo', version: '1.0.0' });

server.registerTool(
  'echo',
  {
    description: 'Returns the text it is given.',
    inputSchema: { text: z.string().describe('Text to echo back') },
  },
  async ({ text }) => ({ content: [{ type: 'text', text }] }),
);

server.registerTool(
  'add',
  {
    description: 'Adds two numbers.',
    inputSchema: { a: z.number(), b: z.number() },
  },
  async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
);

server.registerTool(
  'time',
  {
    description: "Returns the server's current time in ISO 8601.",
  },
  async () => ({ content: [{ type: 'text', text: new Date().toISOString() }] }),
);

server.registerResource('readme', 'demo://readme', { mimeType: 'text/plain', description: 'What this demo server is' }, async (uri) => ({
  contents: [{ uri: uri.href, text: 'A demo MCP server running behind mcp-oauth-gateway.' }],
}));

await server.connect(new StdioServerTransport());
