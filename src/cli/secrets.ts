/** `secrets set|list|delete` and `rotate-secrets-key`: the vault from the command line, beside a running gateway. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { openSecretVault } from '../secrets/open-vault.js';
import { AccountDirectory } from '../authz/accounts.js';
import type { GatewayConfig } from '../config/schema.js';
import { readSecretsKey } from '../lib/secrets-key.js';
import type { SecretVault } from '../secrets/vault.js';
import { openStore } from '../storage/open-store.js';
import type { KeyValueStore } from '../storage/store.js';
import { GatewayError } from '../web/errors.js';

export interface SecretsOptions {
  user?: string;
  server?: string;
  json?: boolean;
  oldKeyFile?: string;
}

/** A problem the person at the terminal can fix; main prints it and exits 1. */
export class CommandError extends Error {}

interface Person {
  sub: string;
  email?: string;
}

/** `--user` is an email (the account is looked up; `reserve` creates its subject) or a subject. */
async function findPerson(store: KeyValueStore, user: string | undefined, reserve: boolean): Promise<Person> {
  if (!user) throw new CommandError('pass --user <email or sub>: whose secrets');
  const accounts = new AccountDirectory(store);
  if (user.includes('@')) {
    const sub = await accounts.subOfEmail(user, reserve);
    if (!sub) throw new CommandError(`no account for ${user}: nobody with that email has signed in yet`);
    return { sub, email: user.toLowerCase() };
  }
  const account = await accounts.findBySub(user);
  if (!account) throw new CommandError(`no account has the sub "${user}" (pass the person's email, or their sub as the gateway logs it)`);
  return { sub: account.sub, email: account.email };
}

function serverWithSecrets(config: GatewayConfig, server: string | undefined): string {
  if (!server) throw new CommandError('pass --server <name>: which server the secret is for');
  const declared = config.mcpServers[server];
  if (!declared) throw new CommandError(`no server "${server}" in mcpServers (there are: ${Object.keys(config.mcpServers).join(', ')})`);
  if (Object.keys(declared.secrets).length === 0)
    throw new CommandError(`server "${server}" declares no secrets (mcpServers.${server}.secrets)`);
  return server;
}

async function withVault<T>(config: GatewayConfig, run: (vault: SecretVault, store: KeyValueStore) => Promise<T>): Promise<T> {
  const store = openStore(config.storage);
  let vault: SecretVault | undefined;
  try {
    await store.ping();
    vault = await openSecretVault(config, store);
    return await run(vault, store);
  } catch (error) {
    if (error instanceof GatewayError && error.expose) throw new CommandError(error.message);
    throw error;
  } finally {
    await vault?.close();
    await store.close();
  }
}

/** The value is read from stdin, never from the command line (where `ps` and shell history would see it). */
function readValue(name: string): string {
  if (process.stdin.isTTY) process.stderr.write(`type the value of ${name}, then press Ctrl-D (or pipe it in)\n`);
  const value = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (!value)
    throw new CommandError(`no value on stdin: e.g. \`printf %s "$TOKEN" | mcp-oauth-gateway secrets set --user … --server … ${name}\``);
  return value;
}

const who = (person: Person) => (person.email ? `${person.email} (sub ${person.sub})` : `sub ${person.sub}`);

export async function secretsSet(config: GatewayConfig, name: string | undefined, options: SecretsOptions): Promise<void> {
  if (!name) throw new CommandError('name the secret: secrets set --user <email> --server <name> NAME');
  const server = serverWithSecrets(config, options.server);
  const value = readValue(name);
  await withVault(config, async (vault, store) => {
    const person = await findPerson(store, options.user, true);
    await vault.set(person.sub, server, name, value);
    process.stdout.write(`stored ${name} for ${who(person)} on server ${server}\n`);
  });
}

export async function secretsDelete(config: GatewayConfig, name: string | undefined, options: SecretsOptions): Promise<void> {
  if (!name) throw new CommandError('name the secret: secrets delete --user <email> --server <name> NAME');
  const server = serverWithSecrets(config, options.server);
  await withVault(config, async (vault, store) => {
    const person = await findPerson(store, options.user, false);
    await vault.delete(person.sub, server, name);
    process.stdout.write(`deleted ${name} of ${who(person)} on server ${server}\n`);
  });
}

/** Which of the declared secrets are set and when; never a value. */
export async function secretsList(config: GatewayConfig, options: SecretsOptions): Promise<void> {
  const servers = options.server
    ? [serverWithSecrets(config, options.server)]
    : Object.keys(config.mcpServers).filter((name) => Object.keys(config.mcpServers[name]!.secrets).length > 0);
  await withVault(config, async (vault, store) => {
    const person = await findPerson(store, options.user, false);
    const rows: Array<{ server: string; name: string; label?: string; required: boolean; updatedAt: string | null }> = [];
    for (const server of servers) {
      const set = new Map((await vault.list(person.sub, server)).map((entry) => [entry.name, entry.updatedAt]));
      for (const [name, declaration] of Object.entries(config.mcpServers[server]!.secrets)) {
        const updatedAt = set.get(name);
        rows.push({
          server,
          name,
          label: declaration.label,
          required: declaration.required,
          updatedAt: updatedAt ? new Date(updatedAt).toISOString() : null,
        });
      }
    }
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ sub: person.sub, email: person.email ?? null, secrets: rows }, null, 2)}\n`);
      return;
    }
    process.stdout.write(`secrets of ${who(person)}:\n`);
    if (rows.length === 0) process.stdout.write('  (no server declares secrets)\n');
    const width = Math.max(0, ...rows.map((row) => `${row.server}  ${row.name}`.length));
    for (const row of rows) {
      const state = row.updatedAt ? `set ${row.updatedAt}` : row.required ? 'not set (required)' : 'not set';
      process.stdout.write(`  ${`${row.server}  ${row.name}`.padEnd(width)}  ${state}\n`);
    }
  });
}

/**
 * Re-encrypts every stored secret under `secretsKey`. The old key comes from `--old-key-file`, else
 * the environment variable GATEWAY_OLD_SECRETS_KEY, else the config's `previousSecretsKey`.
 */
export async function rotateSecretsKey(config: GatewayConfig, options: SecretsOptions): Promise<void> {
  if (!config.secretsKey) throw new CommandError('rotate-secrets-key: set "secretsKey" in the config to the NEW key first');
  let previousKey = config.previousSecretsKey;
  try {
    if (options.oldKeyFile) previousKey = readSecretsKey(`file:${resolve(options.oldKeyFile)}`);
    else if (process.env.GATEWAY_OLD_SECRETS_KEY) previousKey = readSecretsKey(process.env.GATEWAY_OLD_SECRETS_KEY);
  } catch (error) {
    throw new CommandError(`the old key ${(error as Error).message}`);
  }
  const newKey = config.secretsKey;
  await withVault({ ...config, previousSecretsKey: previousKey }, async (vault) => {
    const { rotated, unchanged, unreadable } = await vault.rotate();
    const done = `re-encrypted ${rotated} secret(s) under key ${newKey.id}${unchanged ? `; ${unchanged} already were` : ''}`;
    if (unreadable.length) {
      throw new CommandError(`${done}; ${unreadable.length} could not be read and were left as they are:\n  ${unreadable.join('\n  ')}`);
    }
    process.stdout.write(`${done}. The old key is no longer needed: remove previousSecretsKey (if set) and restart the gateway.\n`);
  });
}
