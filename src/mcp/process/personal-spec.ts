import { createHash } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expandPersonTemplates, secretNamesIn, secretsOfProcess, type PersonValues } from '../../config/person-templates.js';
import type { StdioServerConfig } from '../../config/schema.js';
import type { SecretSource } from '../../secrets/secret-source.js';
import type { StdioSpec } from './stdio-process.js';

/** What the gateway knows of the people its processes serve. */
export interface PersonalDependencies {
  /** The folder every person's private folders are made in (config personalDataDir). */
  dataRoot: string;
  /** The person's email and name from the account directory. */
  person(sub: string): Promise<{ email?: string; name?: string }>;
  /** Each person's secrets; without it `${secret.NAME}` expands to "". */
  secrets?: SecretSource;
  /** Where a person sets their secrets for a server: the account page. */
  accountUrl(serverName: string): string;
}

/**
 * The private folder of one person for one server. Its name is a hash of both, never the raw
 * `sub` (an upstream IdP's subject could hold "../" or be long), so no login can reach another
 * folder and a folder does not tell whose it is.
 */
export function personalFolder(root: string, serverName: string, sub: string): string {
  const digest = createHash('sha256').update(`${serverName}\u0000${sub}`).digest('hex').slice(0, 32);
  return join(root, serverName, digest);
}

/** Made if missing, and 0700 either way: other accounts on the machine read nothing of it. */
async function privateDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
}

/** The person's private folders (home, tmp, data), made and locked down before the process starts. */
export async function preparePersonalFolder(root: string, serverName: string, sub: string) {
  const folder = personalFolder(root, serverName, sub);
  const parts = { home: join(folder, 'home'), tmp: join(folder, 'tmp'), data: join(folder, 'data') };
  await mkdir(root, { recursive: true, mode: 0o700 });
  await privateDirectory(join(root, serverName));
  await privateDirectory(folder);
  for (const path of Object.values(parts)) await privateDirectory(path);
  return parts;
}

/** What one person's templates expand to: their account's email and name, and the secrets named. */
async function personValues(
  deps: PersonalDependencies,
  serverName: string,
  sub: string,
  secretNames: Iterable<string>,
  dataDir?: string,
): Promise<PersonValues> {
  const person = await deps.person(sub).catch(() => ({}));
  const secrets: Record<string, string | undefined> = {};
  for (const name of secretNames) secrets[name] = await deps.secrets?.get(sub, serverName, name);
  return { ...person, sub, dataDir, secrets };
}

/** A remote server's headers as sent for one person's requests. */
export async function personalHeaders(
  deps: PersonalDependencies,
  serverName: string,
  headers: Record<string, string>,
  sub: string,
): Promise<Record<string, string>> {
  const values = await personValues(deps, serverName, sub, new Set(Object.values(headers).flatMap(secretNamesIn)));
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, expandPersonTemplates(value, values)]));
}

/**
 * How one person's process of a server is started: its own HOME and TMPDIR, and every template
 * in env, args and cwd expanded for that person. Each value stays one argv or env entry; no shell
 * ever sees it. npx keeps using the gateway's package cache, so a person's first start does not
 * download the server again into their own home.
 */
export async function personalSpec(
  deps: PersonalDependencies,
  serverName: string,
  server: StdioServerConfig,
  sub: string,
): Promise<StdioSpec> {
  const folders = await preparePersonalFolder(deps.dataRoot, serverName, sub);
  const values = await personValues(deps, serverName, sub, secretsOfProcess(server), folders.data);
  const expand = (text: string) => expandPersonTemplates(text, values);
  return {
    command: server.command,
    args: server.args.map(expand),
    cwd: server.cwd === undefined ? undefined : expand(server.cwd),
    env: {
      HOME: folders.home,
      TMPDIR: folders.tmp,
      npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? '/tmp', '.npm'),
      ...Object.fromEntries(Object.entries(server.env).map(([key, value]) => [key, expand(value)])),
    },
  };
}
