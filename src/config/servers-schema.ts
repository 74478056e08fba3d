/** mcpServers: a stdio program the gateway runs, or a remote MCP server it proxies. */
import { z } from 'zod';
import { duration, stringMap, wholeNumber } from './schema-fields.js';
import { serverTemplateProblems, type TemplatedServer } from './person-templates.js';
import { secretArguments } from './secret-arguments-schema.js';
import { secretDeclarations } from './secrets-schema.js';
import { SERVER_NAME } from './server-names.js';

export const serverName = z.string().regex(SERVER_NAME, {
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

/**
 * A call with no answer and no progress for this long gets an error. Claude.ai and ChatGPT wait
 * 300 s for a tool call: the gateway, whose clock starts later, must never give up first.
 */
const callTimeout = duration('callTimeout', '300s');

/** Per server: how many sessions one person may hold, and (stdio) how many processes may run. */
const sessionsPerPerson = wholeNumber('sessionsPerPerson', 10);

/** What modern (2026-07-28) clients are told about caching list and read results. */
const cache = z
  .object({
    ttl: duration('cache.ttl', '60s'),
    scope: z
      .enum(['public', 'private'], {
        error: (issue) => `cache.scope must be "public" or "private", not ${JSON.stringify(issue.input)}`,
      })
      .optional(),
  })
  .strict()
  .prefault({});

const capabilitiesExample =
  '{ "sampling": {}, "extensions": { "io.modelcontextprotocol/ui": { "mimeTypes": ["text/html;profile=mcp-app"] } } }';

/** Each MCP capability (and each extension) is an object of its settings, {} when it has none. */
const capabilitySettings = (what: string) =>
  z.record(z.string(), z.unknown(), { error: `${what} must be an object of its settings ({} when it has none)` });

/**
 * What the gateway declares as the client of a shared or per-user process (per-session processes
 * are initialized with their client's own). Absent: the gateway's default set, MCP Apps included.
 */
const clientCapabilities = z
  .object(
    {
      extensions: z
        .record(z.string(), capabilitySettings('each extension'), {
          error: 'extensions must be an object of extension settings keyed by their names',
        })
        .optional(),
    },
    { error: `clientCapabilities must be an object of MCP client capabilities, e.g. ${capabilitiesExample}` },
  )
  .catchall(capabilitySettings('each capability'))
  .optional();

/** `${user.*}` and `${secret.*}` templates that cannot work, reported against their own field. */
function reportTemplateProblems(server: TemplatedServer, ctx: z.RefinementCtx): void {
  for (const problem of serverTemplateProblems(server)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
}

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
    clientCapabilities,
    secrets: secretDeclarations,
    callTimeout,
    idleTimeout: duration('idleTimeout', '15m'),
    cache,
    limits: z
      .object({ sessionsPerPerson, processes: wholeNumber('processes', 25) })
      .strict()
      .prefault({}),
    secretArguments,
  })
  .strict()
  .superRefine((server, ctx) => reportTemplateProblems({ kind: 'stdio', ...server }, ctx))
  .refine((server) => !(server.clientCapabilities && server.isolation === 'per-session'), {
    path: ['clientCapabilities'],
    error:
      'clientCapabilities applies to "shared" and "per-user" processes; a "per-session" process is initialized ' +
      "with its own client's capabilities (remove the field, or change isolation)",
  });

const remoteServer = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'url must be the http(s) URL of a remote Streamable HTTP MCP server' }),
    headers: stringMap('headers'),
    secrets: secretDeclarations,
    callTimeout,
    cache,
    limits: z.object({ sessionsPerPerson }).strict().prefault({}),
  })
  .strict()
  .superRefine((server, ctx) => reportTemplateProblems({ kind: 'remote', ...server }, ctx));

type McpServerOutput = z.output<typeof stdioServer> | z.output<typeof remoteServer>;

/**
 * A server is a program the gateway runs ("command") or a remote MCP server ("url"). The kind is
 * picked by which of the two is present and only that kind's rules apply, so a mistake is reported
 * against its own field (a union would only say that neither kind fits).
 */
export const mcpServer = z.unknown().transform((value, ctx): McpServerOutput => {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'a server must be an object like { "command": "npx", "args": [...] } or { "url": "https://..." }, ' +
        `not ${JSON.stringify(value)}`,
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
