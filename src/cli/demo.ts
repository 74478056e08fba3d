import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { hashPassword } from '../authz/password-hash.js';
import { packageRoot } from '../paths.js';
import { parseConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';

export const DEMO_EMAIL = 'demo@example.com';

/** The built-in demo: one stdio server shipped here and one account with a fresh password. */
export async function demoConfig(port = 8080): Promise<{ config: GatewayConfig; password: string }> {
  const password = randomBytes(9).toString('base64url');
  const config = parseConfig(
    {
      publicUrl: `http://127.0.0.1:${port}`,
      listen: { host: '127.0.0.1', port },
      storage: 'lmdb:./data',
      // MCP Inspector's web UI calls the MCP endpoint from the browser.
      allowedOrigins: ['http://localhost:6274', 'http://127.0.0.1:6274'],
      login: { password: { users: [{ email: DEMO_EMAIL, passwordHash: await hashPassword(password), name: 'Demo user' }] } },
      mcpServers: {
        demo: { command: process.execPath, args: [resolve(packageRoot, 'dist', 'src', 'demo', 'demo-mcp-server.js')] },
      },
    },
    'built-in demo configuration',
  );
  return { config, password };
}
