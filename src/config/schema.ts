import { z } from 'zod';
import { parseDuration } from './duration.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

const publicUrl = z.string({ error: 'publicUrl is required: the https URL people and clients reach the gateway at, e.g. "https://mcp.example.com"' })
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a URL; write it like "https://mcp.example.com"` });
      return;
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      ctx.addIssue({ code: 'custom', message: 'must use https (http is only allowed for localhost/127.0.0.1 while testing)' });
    }
    if (value.endsWith('/')) ctx.addIssue({ code: 'custom', message: `remove the trailing slash: "${value.replace(/\/+$/, '')}"` });
    else if (url.pathname !== '/' || url.search || url.hash) {
      ctx.addIssue({ code: 'custom', message: 'must be an origin without path, query or fragment (the issuer and MCP URLs are built from it), e.g. "https://mcp.example.com"' });
    }
  });

const duration = (what: string, fallback: string) => z.union([z.string(), z.number()])
  .default(fallback)
  .transform((value, ctx) => {
    const seconds = parseDuration(value);
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: `${what} must be a duration like "90s", "15m", "1h" or "30d" (or a number of seconds), not ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return seconds;
  });

const email = z.string().trim().toLowerCase().pipe(z.email({ error: 'must be an email address like "alice@example.com"' }));

const passwordUser = z.object({
  email,
  passwordHash: z.string({ error: 'passwordHash is required: create one with `mcp-oauth-gateway hash-password`' })
    .regex(/^scrypt\$/, { error: 'must be a hash printed by `mcp-oauth-gateway hash-password` (it starts with "scrypt$"), never a plain password' }),
  name: z.string().optional(),
}).strict();

const serverName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, {
  error: 'server names may only use letters, digits, "-" and "_" (they become the URL path /mcp/<name>)',
});

const stdioServer = z.object({
  command: z.string().min(1, { error: 'command must name the program to run, e.g. "npx" or "node"' }),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  isolation: z.enum(['per-user', 'shared', 'per-session'], {
    error: 'isolation must be "per-user" (default), "shared" or "per-session"',
  }).default('per-user'),
  callTimeout: duration('callTimeout', '60s'),
  idleTimeout: duration('idleTimeout', '15m'),
}).strict();

const remoteServer = z.object({
  url: z.url({ protocol: /^https?$/, error: 'url must be the http(s) URL of a remote Streamable HTTP MCP server' }),
  headers: z.record(z.string(), z.string()).default({}),
  callTimeout: duration('callTimeout', '60s'),
}).strict();

const mcpServer = z.union([stdioServer, remoteServer], {
  error: 'each server needs either "command" (a stdio server the gateway runs) or "url" (a remote MCP server)',
});

const notYet = (what: string) => z.unknown().superRefine((_value, ctx) => {
  ctx.addIssue({ code: 'custom', message: `${what} login is not available in this version yet; use login.password` });
});

export const configSchema = z.object({
  publicUrl,
  listen: z.object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535, { error: 'port must be between 0 and 65535' }).default(8080),
  }).strict().prefault({}),
  storage: z.string().default('lmdb:./data').refine((value) => /^lmdb:.+/.test(value) || /^rediss?:\/\//.test(value), {
    error: 'storage must be "lmdb:<directory>" (embedded, the default "lmdb:./data") or a Redis URL like "redis://127.0.0.1:6379/0"',
  }),
  trustProxy: z.boolean({ error: 'trustProxy must be true or false (true when a TLS proxy such as Caddy is in front)' }).default(false),
  allowedOrigins: z.array(z.url({ error: 'each allowed origin must be a URL like "https://app.example.com"' })).default([]),
  login: z.object({
    password: z.object({
      users: z.array(passwordUser).min(1, { error: 'add at least one user, or remove login.password' }),
    }).strict().optional(),
    google: notYet('Google').optional(),
    github: notYet('GitHub').optional(),
    oidc: notYet('OIDC').optional(),
  }).strict().prefault({}),
  access: z.object({
    allowEmails: z.array(email).optional(),
    allowDomains: z.array(z.string().trim().toLowerCase().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, { error: 'must be a domain like "example.com"' })).optional(),
  }).strict().prefault({}),
  tokens: z.object({
    accessTokenTtl: duration('accessTokenTtl', '1h'),
    refreshTokenTtl: duration('refreshTokenTtl', '30d'),
    grantTtl: duration('grantTtl', '30d'),
    refreshGracePeriod: duration('refreshGracePeriod', '30s'),
  }).strict().prefault({}),
  mcpServers: z.record(serverName, mcpServer, { error: (issue) => (issue.code === 'invalid_type' ? 'mcpServers must be an object of servers by name' : undefined) })
    .refine((servers) => Object.keys(servers).length > 0, { error: 'add at least one server under mcpServers, e.g. { "everything": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"] } }' }),
}).strict().superRefine((config, ctx) => {
  if (!config.login.password) {
    ctx.addIssue({ code: 'custom', path: ['login'], message: 'configure at least one login method, e.g. login.password.users' });
  }
});

export type GatewayConfig = z.output<typeof configSchema>;
export type McpServerConfig = GatewayConfig['mcpServers'][string];
export type StdioServerConfig = Extract<McpServerConfig, { command: string }>;
export type RemoteServerConfig = Extract<McpServerConfig, { url: string }>;
