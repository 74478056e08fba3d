import { z } from 'zod';
import { clientProfiles } from '../clients/client-profiles.js';
import { isLoopbackHost } from '../net/loopback.js';
import { metrics, rateLimits } from './limits-schema.js';
import { access, login } from './login-schema.js';
import { duration, requiredDuration, wholeNumber } from './schema-fields.js';
import { secretsKeyField } from './secrets-schema.js';
import { mcpServer, serverName } from './servers-schema.js';

export { DEFAULT_RATE_LIMITS } from './limits-schema.js';

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

/** Each section checked on its own; the rules that span sections are below. */
const sections = z
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
    login,
    access,
    /** The vault's encryption key (see README, "Secrets"); without it no secret can be stored. */
    secretsKey: secretsKeyField('secretsKey'),
    /** The key being rotated away from: it only decrypts, until rotate-secrets-key has moved every value. */
    previousSecretsKey: secretsKeyField('previousSecretsKey'),
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
          'add at least one server under mcpServers, ' +
          'e.g. { "everything": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"] } }',
      }),
  })
  .strict();

type Sections = z.output<typeof sections>;

function checkLoginMethods({ login, access }: Sections, ctx: z.RefinementCtx): void {
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
        'with Google, GitHub or OIDC login, say who may get in: access.allowEmails, allowDomains, allowGithubOrgs or allowGroups. ' +
        'To let anyone with an account at the provider in, set "allowAnyone": true explicitly',
    });
  }
  const ids = (login.oidc ?? []).map((p) => p.id);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate)
    ctx.addIssue({ code: 'custom', path: ['login', 'oidc'], message: `two providers have the id "${duplicate}"; ids must be unique` });
  if (access.allowGithubOrgs?.length && !login.github) {
    ctx.addIssue({ code: 'custom', path: ['access', 'allowGithubOrgs'], message: 'allowGithubOrgs needs login.github' });
  }
}

/** allowGroups needs a provider that sends groups, and names the provider when several do. */
function checkGroups({ login, access }: Sections, ctx: z.RefinementCtx): void {
  const groupProviders = (login.oidc ?? []).filter((provider) => provider.groupsClaim).map((provider) => provider.id);
  const unscoped = (access.allowGroups ?? []).find((group) => !groupProviders.some((id) => group.startsWith(`${id}:`)));
  if (groupProviders.length > 1 && unscoped !== undefined) {
    // Two providers could both have a group of that name; say which one is meant.
    ctx.addIssue({
      code: 'custom',
      path: ['access', 'allowGroups'],
      message:
        `several providers send groups (${groupProviders.join(', ')}): ` +
        `write "${groupProviders[0]}:${unscoped}" to say whose group "${unscoped}" is`,
    });
  }
  if (access.allowGroups?.length && !login.oidc?.some((provider) => provider.groupsClaim)) {
    ctx.addIssue({
      code: 'custom',
      path: ['access', 'allowGroups'],
      message: 'allowGroups needs a login.oidc provider with "groupsClaim" (the ID token claim that lists groups, often "groups")',
    });
  }
}

function checkSecretsKeys({ secretsKey, previousSecretsKey }: Sections, ctx: z.RefinementCtx): void {
  if (previousSecretsKey && !secretsKey) {
    ctx.addIssue({
      code: 'custom',
      path: ['previousSecretsKey'],
      message: 'previousSecretsKey needs secretsKey (the new key the values move to)',
    });
  }
}

function checkClusterStorage(config: Sections, ctx: z.RefinementCtx): void {
  if (config.cluster && !/^rediss?:\/\//.test(config.storage)) {
    ctx.addIssue({
      code: 'custom',
      path: ['cluster'],
      message: 'replicas share their state through Redis: set "storage" to a redis:// URL, or remove "cluster"',
    });
  }
}

// The issues come out in this order: login and access, cluster, groups.
export const configSchema = sections.superRefine((config, ctx) => {
  checkLoginMethods(config, ctx);
  checkClusterStorage(config, ctx);
  checkGroups(config, ctx);
  checkSecretsKeys(config, ctx);
});

export type GatewayConfig = z.output<typeof configSchema>;
export type McpServerConfig = GatewayConfig['mcpServers'][string];
export type StdioServerConfig = Extract<McpServerConfig, { command: string }>;
export type RemoteServerConfig = Extract<McpServerConfig, { url: string }>;
export type RateLimitName = keyof GatewayConfig['rateLimits'];
export type RateLimitRule = Exclude<GatewayConfig['rateLimits'][RateLimitName], false>;
