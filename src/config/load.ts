import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.js';

/** A configuration mistake, reported as one line per problem; never a stack trace. */
export class ConfigError extends Error {
  constructor(readonly problems: string[], readonly source: string) {
    super(`${source}: ${problems.length} problem(s) in the configuration`);
  }

  describe(): string {
    return [`${this.source} is not a valid configuration:`, ...this.problems.map((p) => `  - ${p}`)].join('\n');
  }
}

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    const name = String(key);
    return acc ? `${acc}.${name}` : name;
  }, '') || '(top level)';
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

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = fieldPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}: check the spelling against the README`;
  }
  if (issue.code === 'invalid_key' && issue.issues[0]) {
    return `${where}: ${issue.issues[0].message}`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${where}: is required (${issue.message})`;
  }
  return `${where}: ${issue.message}`;
}

export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const problems: string[] = [];
  const substituted = substituteEnv(raw, env, [], problems);
  if (problems.length) throw new ConfigError(problems, source);
  const result = configSchema.safeParse(substituted);
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
  return parseConfig(raw, file, env);
}
