import { z } from 'zod';
import { clientProfiles } from '../clients/client-profiles.js';
import { isLoopbackHost } from '../net/loopback.js';
import { parseDuration } from './duration.js';
import { SERVER_NAME } from './server-names.js';

const publicUrl = z
  .string({ error: 'publicUrl is required: the https URL people and clients reach the gateway at, e.g. "https://mcp.example.com"' })
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
      ctx.addIssue({
        code: 'custom',
        message:
          'must be an origin without path, query or fragment (the issuer and MCP URLs are built from it), e.g. "https://mcp.example.com"',
      });
    }
  });

const durationHint = (what: string) => `${what} must be a duration like "90s", "15m", "1h" or "30d" (or a number of seconds)`;

const requiredDuration = (what: string) =>
  z
    .union([z.string(), z.number()], { error: (issue) => `${durationHint(what)}, not ${JSON.stringify(issue.input)}` })
    .transform((value, ctx) => {
      const seconds = parseDuration(value);
      if (seconds === undefined) {
        ctx.addIssue({ code: 'custom', message: `${durationHint(what)}, not ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return seconds;
    });

// prefault: the default goes through the same parsing as a written value.
const duration = (what: string, fallback: string) => requiredDuration(what).prefault(fallback);

const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ error: 'must be an email address like "alice@example.com"' }));

const passwordUser = z
  .object({
    email,
    passwordHash: z.string({ error: 'passwordHash is required: create one with `mcp-oauth-gateway hash-password`' }).regex(/^scrypt\$/, {
      error: 'must be a hash printed by `mcp-oauth-gateway hash-password` (it starts with "scrypt$"), never a plain password',
    }),
    name: z.string().optional(),
  })
  .strict();

const serverName = z.string().regex(SERVER_NAME, {
  error: 'server names may only use letters, digits, "-" and "_" (they become the URL path /mcp/<name>)',
});

/** Each argument is its own string: "-y pkg" would reach the program as one argument. */
const args = z
  .array(z.string(), {
    error: (issue) =>
      typeof issue.input === 'string'
        ? `write each argument as its own string: [${issue.input
            .trim()
            .split(/\s+/)
            .map((part) => JSON.stringify(part))
            .join(', ')}]`
        : 'args must be a list of strings, e.g. ["-y", "@modelcontextprotocol/server-everything"]',
  })
  .default([]);

const stringMap = (what: string) =>
  z.record(z.string(), z.string(), { error: `${what} must be an object of strings, e.g. { "NAME": "value" }` }).default({});

const wholeNumber = (what: string, fallback: number) =>
  z
    .number({ error: `${what} must be a whole number, e.g. ${fallback}` })
    .int({ error: `${what} must be a whole number, e.g. ${fallback}` })
    .min(1, { error: `${what} must be at least 1` })
    .default(fallback);

/** Per server: how many sessions one person may hold, and (stdio) how many processes may run. */
const sessionsPerPerson = wholeNumber('sessionsPerPerson', 10);

const stdioServer = z
  .object({
    command: z.string().min(1, { error: 'command must name the program to run, e.g. "npx" or "node"' }),
    args,
    env: stringMap('env'),
    cwd: z.string().min(1, { error: "cwd must name a directory (relative paths start at the config file's folder)" }).optional(),
    isolation: z
      .enum(['per-user', 'shared', 'per-session'], {
        error: (issue) => `isolation must be "per-user" (default), "shared" or "per-session", not ${JSON.stringify(issue.input)}`,
      })
      .default('per-user'),
    callTimeout: duration('callTimeout', '60s'),
    idleTimeout: duration('idleTimeout', '15m'),
    limits: z
      .object({ sessionsPerPerson, processes: wholeNumber('processes', 25) })
      .strict()
      .prefault({}),
  })
  .strict();

const remoteServer = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'url must be the http(s) URL of a remote Streamable HTTP MCP server' }),
    headers: stringMap('headers'),
    callTimeout: duration('callTimeout', '60s'),
    limits: z.object({ sessionsPerPerson }).strict().prefault({}),
  })
  .strict();

type McpServerOutput = z.output<typeof stdioServer> | z.output<typeof remoteServer>;

/**
 * A server is a program the gateway runs ("command") or a remote MCP server ("url"). The kind is
 * picked by which of the two is present and only that kind's rules apply, so a mistake is reported
 * against its own field (a union would only say that neither kind fits).
 */
const mcpServer = z.unknown().transform((value, ctx): McpServerOutput => {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `a server must be an object like { "command": "npx", "args": [...] } or { "url": "https://..." }, not ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  const hasCommand = 'command' in value;
  const hasUrl = 'url' in value;
  if (hasCommand === hasUrl) {
    ctx.addIssue({
      code: 'custom',
      message: hasCommand
        ? 'has both "command" and "url": a server is either a program the gateway runs ("command") or a remote MCP server ("url")'
        : 'each server needs either "command" (a stdio server the gateway runs) or "url" (a remote MCP server)',
    });
    return z.NEVER;
  }
  const parsed = (hasCommand ? stdioServer : remoteServer).safeParse(value, { reportInput: true });
  if (parsed.success) return parsed.data;
  // The inner issues keep their paths (e.g. ["isolation"]); the record prefixes the server name.
  for (const issue of parsed.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
  return z.NEVER;
});

const secret = (what: string) =>
  z
    .string({ error: `${what} is required (from the identity provider's app settings; "\${ENV_VAR}" keeps it out of the file)` })
    .min(1, { error: `${what} must not be empty` });

const googleLogin = z
  .object({
    clientId: z.string({ error: 'clientId is required: the OAuth client id from Google Cloud Console' }).min(1),
    clientSecret: secret('clientSecret'),
    label: z.string().default('Google'),
    /** Only for testing against a stand-in; Google's issuer is fixed. */
    issuer: z.url().default('https://accounts.google.com'),
  })
  .strict();

const githubLogin = z
  .object({
    clientId: z.string({ error: 'clientId is required: the client id of your GitHub OAuth app' }).min(1),
    clientSecret: secret('clientSecret'),
    label: z.string().default('GitHub'),
    /** GitHub Enterprise Server: https://github.example.com and https://github.example.com/api/v3 */
    webUrl: z.url().default('https://github.com'),
    apiUrl: z.url().default('https://api.github.com'),
  })
  .strict();

const RESERVED_PROVIDER_IDS = new Set(['password', 'google', 'github']);

const oidcLogin = z
  .object({
    id: z
      .string({ error: 'id is required: a short name used in the callback URL /login/<id>/callback' })
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, {
        error: 'id may only use lowercase letters, digits and "-" (it becomes part of the callback URL)',
      })
      .refine((id) => !RESERVED_PROVIDER_IDS.has(id), { error: 'id must not be "password", "google" or "github" (those are built in)' }),
    label: z.string({ error: 'label is required: the button text on the login page, e.g. "Okta"' }).min(1),
    issuer: z.url({ error: 'issuer must be the URL of the OpenID provider, e.g. "https://example.okta.com"' }),
    clientId: z.string({ error: 'clientId is required' }).min(1),
    clientSecret: secret('clientSecret'),
    scopes: z.array(z.string()).default(['openid', 'email', 'profile']),
    groupsClaim: z.string().optional(),
  })
  .strict();

const listenPort = z
  .number({ error: 'port must be a number between 0 and 65535' })
  .int()
  .min(0)
  .max(65535, { error: 'port must be between 0 and 65535' });

const metrics = z.preprocess(
  (value, ctx) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be an object like { "listen": { "port": 9464 } } and/or { "token": "\${METRICS_TOKEN}" }, not ${JSON.stringify(value)}; remove "metrics" to turn metrics off`,
      });
    }
    return value;
  },
  z
    .object({
      /** A separate listener that serves only GET /metrics (keep it private: 127.0.0.1 or an internal network). */
      listen: z
        .object(
          {
            host: z.string().default('127.0.0.1'),
            port: listenPort,
          },
          { error: 'listen must be { "host": "127.0.0.1", "port": 9464 }' },
        )
        .strict()
        .optional(),
      /** Serves GET /metrics on the main port to requests with "Authorization: Bearer <token>". */
      token: z
        .string({ error: 'token must be a string, e.g. "${METRICS_TOKEN}"' })
        .min(16, {
          error:
            'token must be at least 16 characters (it guards /metrics on the public port); e.g. "${METRICS_TOKEN}" with `openssl rand -hex 32`',
        })
        .optional(),
    })
    .strict()
    .refine((value) => value.listen || value.token, {
      error:
        'metrics needs "listen" (a separate admin port) or "token" (GET /metrics on the main port with a bearer token), or both; remove "metrics" to turn metrics off',
    }),
);

/** `{ "limit": 30, "window": "15m" }`, or false for no limit. */
const rateLimit = (name: string, limit: number, window: string) =>
  z
    .preprocess(
      (value, ctx) => {
        if (value === false) return null;
        if (!value || typeof value !== 'object' || Array.isArray(value)) {
          ctx.addIssue({
            code: 'custom',
            message: `must be false (no limit) or like { "limit": ${limit}, "window": "${window}" }, not ${JSON.stringify(value)}`,
          });
        }
        return value;
      },
      z
        .object({
          limit: z
            .number({ error: `limit must be a whole number of requests, e.g. ${limit}` })
            .min(1, { error: 'limit must be at least 1 (use false to turn this limit off)' })
            .refine(Number.isInteger, { error: `limit must be a whole number of requests, e.g. ${limit}` }),
          window: duration('window', window),
        })
        .strict()
        .nullable(),
    )
    .transform((rule) => rule ?? (false as const))
    .prefault({ limit, window });

/** Defaults: generous for people and connectors, tight enough to stop scripted guessing and floods. */
export const DEFAULT_RATE_LIMITS = {
  login: { limit: 30, window: '15m' },
  // ChatGPT and Claude.ai register and fetch tokens from a few server addresses shared by all
  // their users: these limits stop floods without turning a busy team's connectors away.
  register: { limit: 120, window: '1h' },
  token: { limit: 600, window: '1m' },
  mcp: { limit: 600, window: '1m' },
  // Each GET /authorize stores a sign-in in progress for an hour, signed in or not.
  authorize: { limit: 300, window: '15m' },
  initialize: { limit: 30, window: '1m' },
} as const;

const rateLimitRules = z
  .object({
    /** Per client IP: password form posts and starts of Google/GitHub/OIDC sign-in. */
    login: rateLimit('login', DEFAULT_RATE_LIMITS.login.limit, DEFAULT_RATE_LIMITS.login.window),
    /** Per client IP: POST /register. */
    register: rateLimit('register', DEFAULT_RATE_LIMITS.register.limit, DEFAULT_RATE_LIMITS.register.window),
    /** Per client IP: POST /token. */
    token: rateLimit('token', DEFAULT_RATE_LIMITS.token.limit, DEFAULT_RATE_LIMITS.token.window),
    /** Per person (the token's sub): POST /mcp/<server>. */
    mcp: rateLimit('mcp', DEFAULT_RATE_LIMITS.mcp.limit, DEFAULT_RATE_LIMITS.mcp.window),
    /** Per client IP: GET /authorize. */
    authorize: rateLimit('authorize', DEFAULT_RATE_LIMITS.authorize.limit, DEFAULT_RATE_LIMITS.authorize.window),
    /** Per person: MCP initialize requests (new sessions), on top of mcp. */
    initialize: rateLimit('initialize', DEFAULT_RATE_LIMITS.initialize.limit, DEFAULT_RATE_LIMITS.initialize.window),
  })
  .strict();

/** `"rateLimits": false` turns every limit off. */
const rateLimits = z
  .preprocess((value, ctx) => {
    if (value === false) return { login: false, register: false, token: false, mcp: false, authorize: false, initialize: false };
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be false (no limits) or an object with any of "login", "register", "token", "mcp", "authorize" and "initialize", not ${JSON.stringify(value)}`,
      });
    }
    return value;
  }, rateLimitRules)
  .prefault({});

export const configSchema = z
  .object({
    publicUrl,
    listen: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535, { error: 'port must be between 0 and 65535' }).default(8080),
      })
      .strict()
      .prefault({}),
    storage: z
      .string()
      .default('lmdb:./data')
      .refine((value) => /^lmdb:.+/.test(value) || /^rediss?:\/\//.test(value), {
        error: 'storage must be "lmdb:<directory>" (embedded, the default "lmdb:./data") or a Redis URL like "redis://127.0.0.1:6379/0"',
      }),
    cluster: z
      .object({
        /** How the other replicas reach this one (not the public URL), e.g. "http://${HOSTNAME}:8080". */
        advertiseUrl: z.url({ error: 'advertiseUrl must be the URL other replicas reach this one at, e.g. "http://${HOSTNAME}:8080"' }),
      })
      .strict()
      .optional(),
    /** On SIGTERM, how long requests in flight may take to finish before they are answered with an error. */
    shutdownDeadline: duration('shutdownDeadline', '10s'),
    metrics: metrics.optional(),
    rateLimits,
    /** Gateway-wide: stdio processes running at once, and how long any MCP session may last. */
    limits: z
      .object({
        processes: wholeNumber('processes', 50),
        sessionLifetime: duration('sessionLifetime', '24h'),
      })
      .strict()
      .prefault({}),
    trustProxy: z.boolean({ error: 'trustProxy must be true or false (true when a TLS proxy such as Caddy is in front)' }).default(false),
    allowedOrigins: z.array(z.url({ error: 'each allowed origin must be a URL like "https://app.example.com"' })).default([]),
    login: z
      .object({
        password: z
          .object({
            users: z.array(passwordUser).min(1, { error: 'add at least one user, or remove login.password' }),
          })
          .strict()
          .optional(),
        google: googleLogin.optional(),
        github: githubLogin.optional(),
        oidc: z.array(oidcLogin).optional(),
      })
      .strict()
      .prefault({}),
    access: z
      .object({
        allowEmails: z.array(email).optional(),
        allowDomains: z
          .array(
            z
              .string()
              .trim()
              .toLowerCase()
              .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, { error: 'must be a domain like "example.com"' }),
          )
          .optional(),
        allowGithubOrgs: z
          .array(
            z
              .string()
              .regex(/^[A-Za-z0-9-]+(\/[A-Za-z0-9_.-]+)?$/, { error: 'must be a GitHub organization ("acme") or team ("acme/platform")' }),
          )
          .optional(),
        allowGroups: z.array(z.string().min(1)).optional(),
        allowAnyone: z.boolean().default(false),
        /** How long a sign-in's Workspace domain, groups and GitHub teams count before they must be confirmed again. */
        signInAgainAfter: duration('signInAgainAfter', '7d'),
      })
      .strict()
      .prefault({}),
    tokens: z
      .object({
        accessTokenTtl: duration('accessTokenTtl', '1h'),
        refreshTokenTtl: duration('refreshTokenTtl', '30d'),
        grantTtl: duration('grantTtl', '30d'),
        refreshGracePeriod: duration('refreshGracePeriod', '30s'),
        /** A registered client that never completes a grant is forgotten after this long. */
        unusedClientTtl: duration('unusedClientTtl', '24h'),
        /** Per known client (see src/clients/client-profiles.json), e.g. a longer life for Claude.ai, which rarely refreshes. */
        clients: z
          .partialRecord(
            z.enum(clientProfiles.map((profile) => profile.id) as [string, ...string[]], {
              error: `clients are named by profile: ${clientProfiles.map((profile) => `"${profile.id}"`).join(', ')}`,
            }),
            z.object({ accessTokenTtl: requiredDuration('accessTokenTtl') }).strict(),
          )
          .default({}),
      })
      .strict()
      .prefault({}),
    mcpServers: z
      .record(serverName, mcpServer, {
        error: (issue) => (issue.code === 'invalid_type' ? 'mcpServers must be an object of servers by name' : undefined),
      })
      .refine((servers) => Object.keys(servers).length > 0, {
        error:
          'add at least one server under mcpServers, e.g. { "everything": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"] } }',
      }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const { login, access } = config;
    const upstream = !!(login.google || login.github || login.oidc?.length);
    if (!login.password && !upstream) {
      ctx.addIssue({
        code: 'custom',
        path: ['login'],
        message: 'configure at least one login method: login.password.users, login.google, login.github or login.oidc',
      });
    }
    const rules = [access.allowEmails, access.allowDomains, access.allowGithubOrgs, access.allowGroups].some(
      (rule) => rule && rule.length > 0,
    );
    if (upstream && !rules && !access.allowAnyone) {
      ctx.addIssue({
        code: 'custom',
        path: ['access'],
        message:
          'with Google, GitHub or OIDC login, say who may get in: access.allowEmails, allowDomains, allowGithubOrgs or allowGroups. To let anyone with an account at the provider in, set "allowAnyone": true explicitly',
      });
    }
    const ids = (login.oidc ?? []).map((p) => p.id);
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate)
      ctx.addIssue({ code: 'custom', path: ['login', 'oidc'], message: `two providers have the id "${duplicate}"; ids must be unique` });
    if (access.allowGithubOrgs?.length && !login.github) {
      ctx.addIssue({ code: 'custom', path: ['access', 'allowGithubOrgs'], message: 'allowGithubOrgs needs login.github' });
    }
    if (config.cluster && !/^rediss?:\/\//.test(config.storage)) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster'],
        message: 'replicas share their state through Redis: set "storage" to a redis:// URL, or remove "cluster"',
      });
    }
    const groupProviders = (login.oidc ?? []).filter((provider) => provider.groupsClaim).map((provider) => provider.id);
    const unscoped = (access.allowGroups ?? []).find((group) => !groupProviders.some((id) => group.startsWith(`${id}:`)));
    if (groupProviders.length > 1 && unscoped !== undefined) {
      // Two providers could both have a group of that name; say which one is meant.
      ctx.addIssue({
        code: 'custom',
        path: ['access', 'allowGroups'],
        message: `several providers send groups (${groupProviders.join(', ')}): write "${groupProviders[0]}:${unscoped}" to say whose group "${unscoped}" is`,
      });
    }
    if (access.allowGroups?.length && !login.oidc?.some((provider) => provider.groupsClaim)) {
      ctx.addIssue({
        code: 'custom',
        path: ['access', 'allowGroups'],
        message: 'allowGroups needs a login.oidc provider with "groupsClaim" (the ID token claim that lists groups, often "groups")',
      });
    }
  });

export type GatewayConfig = z.output<typeof configSchema>;
export type McpServerConfig = GatewayConfig['mcpServers'][string];
export type StdioServerConfig = Extract<McpServerConfig, { command: string }>;
export type RemoteServerConfig = Extract<McpServerConfig, { url: string }>;
export type RateLimitName = keyof GatewayConfig['rateLimits'];
export type RateLimitRule = Exclude<GatewayConfig['rateLimits'][RateLimitName], false>;
