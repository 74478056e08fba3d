import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import type { GatewayConfig, StdioServerConfig } from './schema.js';

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The PATH a server's program is looked up on: the gateway's, unless the server's env sets one. */
export function serverPath(server: StdioServerConfig): string {
  return server.env.PATH ?? process.env.PATH ?? '/usr/bin:/bin';
}

/** Why `command` would not start, as spawn looks for it; undefined when it would be found. */
function commandProblem(server: StdioServerConfig): string | undefined {
  const from = server.cwd ?? process.cwd();
  if (server.command.includes('/')) {
    const path = resolve(from, server.command);
    if (!isFile(path)) return `"${server.command}" does not exist (looked for ${path})`;
    return isExecutable(path)
      ? undefined
      : `${path} is not executable (chmod +x it, or run it through its interpreter, e.g. "command": "node")`;
  }
  const dirs = serverPath(server)
    .split(delimiter)
    .map((dir) => resolve(from, dir || '.'));
  const candidates = dirs.map((dir) => resolve(dir, server.command)).filter(isFile);
  if (candidates.some(isExecutable)) return undefined;
  if (candidates.length) return `${candidates[0]} is not executable (chmod +x it)`;
  return `"${server.command}" is not on PATH (${serverPath(server)}): install it, or write its full path`;
}

function cwdProblem(cwd: string): string | undefined {
  try {
    return statSync(cwd).isDirectory() ? undefined : `${cwd} is not a directory`;
  } catch {
    return `${cwd} does not exist`;
  }
}

/**
 * What can be told about the stdio servers without starting them: a program that is not there or
 * not executable, a working directory that does not exist. One line per problem, naming the field.
 */
export function stdioServerProblems(config: GatewayConfig): string[] {
  const problems: string[] = [];
  for (const [name, server] of Object.entries(config.mcpServers)) {
    if (!('command' in server)) continue;
    // Expanded per person when a process starts: nothing to look at before then.
    if (server.cwd?.includes('${')) continue;
    const badCwd = server.cwd === undefined ? undefined : cwdProblem(server.cwd);
    if (badCwd) problems.push(`mcpServers.${name}.cwd: ${badCwd}`);
    const badCommand = badCwd ? undefined : commandProblem(server);
    if (badCommand) problems.push(`mcpServers.${name}.command: ${badCommand}`);
  }
  return problems;
}
