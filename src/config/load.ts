import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { duplicateKeyProblems } from './duplicate-keys.js';
import { configSchema, type GatewayConfig } from './schema.js';

/** A configuration mistake, reported as one line per problem; never a stack trace. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly source: string,
  ) {
    super(`${source}: ${problems.length} problem(s) in the configuration`);
  }

  describe(): string {
    return [`${this.source} is not a valid configuration:`, ...this.problems.map((p) => `  - ${p}`)].join('\n');
  }
}

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return (
    path.reduce<string>((acc, key) => {
      if (typeof key === 'number') return `${acc}[${key}]`;
      const name = String(key);
      return acc ? `${acc}.${name}` : name;
    }, '') || '(top level)'
  );
}

/** Replaces ${VAR} in every string value; a missing variable is a problem naming the field. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: PropertyKey[], problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = env[name];
      if (found === undefined) {
        problems.push(`${fieldPath(path)}: environment variable ${name} is not set (export it, or write the value in the file)`);
        return '';
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, [...path, i], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k], problems)]));
  }
  return value;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list [...]',
  object: 'an object {...}',
  record: 'an object {...}',
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'boolean') return `${value}`;
  return { string: 'a string', number: 'a number', object: 'an object' }[typeof value as string] ?? typeof value;
}

/** "expected a number, got a string", plus how to write it when the value is only quoted. */
function wrongType(issue: z.core.$ZodIssueInvalidType): string {
  const problem = `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${typeOf(issue.input)}`;
  const input = issue.input;
  if (
    typeof input === 'string' &&
    (issue.expected === 'number' || issue.expected === 'int') &&
    input.trim() !== '' &&
    Number.isFinite(Number(input))
  ) {
    return `${problem}: write ${input.trim()} without quotes`;
  }
  if (issue.expected === 'boolean' && (input === 'true' || input === 'false')) return `${problem}: write ${input} without quotes`;
  // A field's own explanation, unless it is zod's generic one ("Invalid input: ...").
  const explanation = issue.message.startsWith('Invalid input') ? '' : issue.message.replace(/^\w+ is required:?\s*/, '');
  return explanation ? `${problem} (${explanation})` : problem;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = fieldPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}: check the spelling against the README`;
  }
  if (issue.code === 'invalid_key' && issue.issues[0]) {
    return `${where}: ${issue.issues[0].message}`;
  }
  if (issue.code === 'invalid_type') {
    return issue.input === undefined ? `${where}: is required (${issue.message})` : `${where}: ${wrongType(issue)}`;
  }
  return `${where}: ${issue.message}`;
}

export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const problems: string[] = [];
  const substituted = substituteEnv(raw, env, [], problems);
  if (problems.length) throw new ConfigError(problems, source);
  // reportInput: to tell a missing field ("is required") from one of the wrong type.
  const result = configSchema.safeParse(substituted, { reportInput: true });
  if (!result.success) throw new ConfigError(result.error.issues.map(describeIssue), source);
  return result.data;
}

function jsonSyntaxProblem(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message);
  if (position) {
    const offset = Number(position[1]);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    return `invalid JSON at line ${line}, column ${column}: ${message.replace(/ in JSON at position \d+.*$/, '')}`;
  }
  return `invalid JSON: ${message}`;
}

/**
 * Paths written in the file are relative to the file's folder, not to wherever the gateway was
 * started: "lmdb:./data", a server's "cwd", and a "command" written as a path ("./server.sh",
 * which the system finds from the server's cwd when it has one).
 */
export function resolveRelativePaths(config: GatewayConfig, baseDir: string): GatewayConfig {
  const storage = config.storage.startsWith('lmdb:') ? `lmdb:${resolve(baseDir, config.storage.slice('lmdb:'.length))}` : config.storage;
  const mcpServers = Object.fromEntries(
    Object.entries(config.mcpServers).map(([name, server]) => {
      if (!('command' in server)) return [name, server];
      // A cwd that starts with a template (e.g. "${user.dataDir}") is a full path once expanded.
      const cwd = server.cwd === undefined || server.cwd.startsWith('${') ? server.cwd : resolve(baseDir, server.cwd);
      const command =
        !cwd && server.command.includes('/') && !isAbsolute(server.command) ? resolve(baseDir, server.command) : server.command;
      return [name, { ...server, command, cwd }];
    }),
  );
  const personalDataDir =
    config.personalDataDir !== undefined
      ? resolve(baseDir, config.personalDataDir)
      : storage.startsWith('lmdb:')
        ? undefined // beside the store: see personalDataRoot
        : resolve(baseDir, 'people-data');
  return { ...config, storage, mcpServers, personalDataDir };
}

/** The folder each person's private folders are made in: personalDataDir, or beside the store. */
export function personalDataRoot(config: Pick<GatewayConfig, 'personalDataDir' | 'storage'>): string {
  if (config.personalDataDir) return resolve(config.personalDataDir);
  if (config.storage.startsWith('lmdb:')) return resolve(config.storage.slice('lmdb:'.length), 'people');
  return resolve('people-data');
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(error)})`], file);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([jsonSyntaxProblem(text, error)], file);
  }
  const duplicates = duplicateKeyProblems(text);
  if (duplicates.length) throw new ConfigError(duplicates, file);
  return resolveRelativePaths(parseConfig(raw, file, env), dirname(resolve(file)));
}
