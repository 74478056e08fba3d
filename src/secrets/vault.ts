import { createHash } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { audit } from '../observability/audit.js';
import type { KeyValueStore } from '../storage/store.js';
import { GatewayError } from '../web/errors.js';
import type { SecretChangeFeed } from './change-feed.js';
import { seal, unseal, UnsealError, type SealedValue, type SecretOwner } from './sealing.js';
import type { SecretSource } from './secret-source.js';
import type { SecretsKey } from '../lib/secrets-key.js';

/** What a server's config says about one of its secrets (`mcpServers.<name>.secrets.<NAME>`). */
export interface SecretDeclaration {
  label?: string;
  help?: string;
  pattern?: string;
  required?: boolean;
}

/** By server name, then secret name. */
export type SecretDeclarations = Record<string, Record<string, SecretDeclaration>>;

/** One stored secret: the owner in clear (rotation needs it to rebuild the associated data), the value sealed. */
export interface StoredSecret extends SealedValue, SecretOwner {
  updatedAt: number;
}

/** A value's size limit, in UTF-8 bytes. */
export const MAX_SECRET_BYTES = 8192;
/** Every stored secret's key, for rotation and the start-up check. */
export const SECRETS_INDEX = 'secrets:index';
/** How many stored secrets the start-up check examines for their key id. */
const STARTUP_SAMPLE = 1000;

export function secretRecordKey(sub: string, server: string, name: string): string {
  return `secret:${createHash('sha256').update(sub).digest('hex')}:${server}:${name}`;
}

export interface VaultOptions {
  store: KeyValueStore;
  declarations: SecretDeclarations;
  /** `secretsKey`: seals every value and opens those it sealed. Without it the vault holds nothing. */
  key?: SecretsKey;
  /** `previousSecretsKey`: only opens values, while `rotate-secrets-key` moves them to `key`. */
  previousKey?: SecretsKey;
  changes?: SecretChangeFeed;
  /** Where `secret.set` and `secret.deleted` audit events go (names only, never a value). */
  logger?: Logger;
}

const HOW_TO_CONFIGURE = '32 random bytes as base64, usually "${GATEWAY_SECRETS_KEY}"; generate one with `openssl rand -base64 32`';
const NO_KEY = `the secrets vault needs "secretsKey" in the config (${HOW_TO_CONFIGURE})`;

/**
 * Each person's secrets, encrypted with AES-256-GCM (see sealing.ts), one store record per
 * person, server and name, so two changes never overwrite each other.
 */
export class SecretVault implements SecretSource {
  private readonly listeners = new Set<(sub: string, server: string) => void>();
  private readonly keys: SecretsKey[];
  private subscription?: Promise<void>;

  private constructor(private readonly options: VaultOptions) {
    this.keys = [options.key, options.previousKey].filter((key): key is SecretsKey => key !== undefined);
  }

  /**
   * Opens the vault, refusing when secrets are stored but cannot be read: no `secretsKey` at all,
   * or one under which the stored values were not sealed.
   */
  static async open(options: VaultOptions): Promise<SecretVault> {
    await checkStoredKeys(options);
    return new SecretVault(options);
  }

  /** Whether values can be stored (a `secretsKey` is configured). */
  get available(): boolean {
    return this.options.key !== undefined;
  }

  async get(sub: string, server: string, name: string): Promise<string | undefined> {
    const record = await this.options.store.get<StoredSecret>(secretRecordKey(sub, server, name));
    if (!record) return undefined;
    try {
      return unseal(this.keys, { sub, server, name }, record);
    } catch (error) {
      if (!(error instanceof UnsealError)) throw error;
      throw new GatewayError(500, 'secret_unreadable', error.message, { expose: false, cause: error });
    }
  }

  /** The stored secrets of the declared names of `server`, by name. */
  async list(sub: string, server: string): Promise<Array<{ name: string; updatedAt: number }>> {
    const names = Object.keys(this.options.declarations[server] ?? {});
    const found: Array<{ name: string; updatedAt: number }> = [];
    for (const name of names) {
      const record = await this.options.store.get<StoredSecret>(secretRecordKey(sub, server, name));
      if (record) found.push({ name, updatedAt: record.updatedAt });
    }
    return found;
  }

  async set(sub: string, server: string, name: string, value: string): Promise<void> {
    const key = this.options.key;
    if (!key) throw new GatewayError(503, 'secrets_unavailable', `cannot store ${name}: ${NO_KEY}`, { expose: true });
    checkValue(this.options.declarations, server, name, value);
    const recordKey = secretRecordKey(sub, server, name);
    const record: StoredSecret = { sub, server, name, ...seal(key, { sub, server, name }, value), updatedAt: Date.now() };
    await this.options.store.set(recordKey, record);
    await this.options.store.addToIndex(SECRETS_INDEX, recordKey);
    if (this.options.logger) audit(this.options.logger, 'secret.set', { sub, server, name }, 'secret set');
    await this.changed(sub, server);
  }

  async delete(sub: string, server: string, name: string): Promise<void> {
    const recordKey = secretRecordKey(sub, server, name);
    if ((await this.options.store.get(recordKey)) === undefined) return;
    await this.options.store.delete(recordKey);
    if (this.options.logger) audit(this.options.logger, 'secret.deleted', { sub, server, name }, 'secret deleted');
    await this.changed(sub, server);
  }

  /** The first listener subscribes to the other processes' changes (a command-line vault never does). */
  onChange(listener: (sub: string, server: string) => void): () => void {
    this.subscription ??= this.options.changes?.subscribe((sub, server) => this.tell(sub, server)) ?? Promise.resolve();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the listeners hear of other processes' changes too (at once without Redis or listeners). */
  async listening(): Promise<void> {
    await this.subscription;
  }

  /** Every stored secret's record, for rotation (an index entry whose record was deleted is skipped). */
  async *records(): AsyncGenerator<{ recordKey: string; record: StoredSecret }> {
    for (const recordKey of await this.options.store.members(SECRETS_INDEX)) {
      const record = await this.options.store.get<StoredSecret>(recordKey);
      if (record) yield { recordKey, record };
    }
  }

  /**
   * Re-seals every value not yet under `secretsKey` with it (opened with `previousSecretsKey`).
   * Idempotent: run it again after an interruption. Listeners are not told: the values are the same.
   * A value that does not open (altered, or under a key not given) is left as it is and reported.
   */
  async rotate(): Promise<{ rotated: number; unchanged: number; unreadable: string[] }> {
    const key = this.options.key;
    if (!key) throw new GatewayError(503, 'secrets_unavailable', `cannot rotate: ${NO_KEY}`, { expose: true });
    const outcome = { rotated: 0, unchanged: 0, unreadable: [] as string[] };
    for await (const { recordKey, record } of this.records()) {
      if (record.k === key.id) {
        outcome.unchanged += 1;
        continue;
      }
      const owner = { sub: record.sub, server: record.server, name: record.name };
      let value: string;
      try {
        value = unseal(this.keys, owner, record);
      } catch (error) {
        if (!(error instanceof UnsealError)) throw error;
        outcome.unreadable.push(error.message);
        continue;
      }
      // A value set meanwhile (by a gateway, under the new key) is not overwritten with the old one.
      const current = await this.options.store.get<StoredSecret>(recordKey);
      if (current?.v !== record.v) continue;
      await this.options.store.set(recordKey, { ...record, ...seal(key, owner, value) } satisfies StoredSecret);
      outcome.rotated += 1;
    }
    return outcome;
  }

  async close(): Promise<void> {
    await this.options.changes?.close();
  }

  private async changed(sub: string, server: string): Promise<void> {
    this.tell(sub, server);
    // The value is stored; a replica that misses the news still reads it at its next use.
    await this.options.changes?.publish(sub, server).catch(() => {});
  }

  private tell(sub: string, server: string): void {
    for (const listener of this.listeners) listener(sub, server);
  }
}

/** Refuses (GatewayError) when stored secrets exist but no configured key opens them. */
async function checkStoredKeys({ store, key, previousKey }: VaultOptions): Promise<void> {
  const known = new Set([key?.id, previousKey?.id].filter(Boolean));
  const foreignKeys = new Set<string>();
  let examined = 0;
  let foreign = 0;
  for (const recordKey of (await store.members(SECRETS_INDEX)).slice(0, STARTUP_SAMPLE)) {
    const record = await store.get<StoredSecret>(recordKey);
    if (!record) continue;
    examined += 1;
    if (known.has(record.k)) continue;
    foreign += 1;
    foreignKeys.add(record.k);
  }
  if (examined > 0 && !key) {
    const message =
      'secrets are stored but no "secretsKey" is configured: ' + `set it to the key they were encrypted with (${HOW_TO_CONFIGURE})`;
    throw new GatewayError(503, 'secrets_key_missing', message, { expose: true });
  }
  if (foreign === 0) return;
  const configured = `the configured secretsKey (${key!.id})${previousKey ? ` or previousSecretsKey (${previousKey.id})` : ''}`;
  throw new GatewayError(
    503,
    'secrets_key_mismatch',
    `${foreign} of ${examined} stored secret(s) were encrypted under key ${[...foreignKeys].join(', ')}, not under ${configured}: ` +
      'configure the key they were encrypted with (as "secretsKey", or as "previousSecretsKey" and run rotate-secrets-key)',
    { expose: true },
  );
}

/** A value may only be stored under a name its server declares, within the size limit and matching its pattern. */
function checkValue(declarations: SecretDeclarations, server: string, name: string, value: string): void {
  const declared = declarations[server];
  if (!declared) throw new GatewayError(400, 'invalid_secret', `server "${server}" declares no secrets`);
  const declaration = declared[name];
  if (!declaration) {
    throw new GatewayError(
      400,
      'invalid_secret',
      `server "${server}" declares no secret ${name} (it declares ${Object.keys(declared).join(', ')})`,
    );
  }
  if (value === '') throw new GatewayError(400, 'invalid_secret', `${name} is empty: to remove a secret, delete it`);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_SECRET_BYTES) {
    throw new GatewayError(400, 'invalid_secret', `${name} is ${bytes} bytes; a secret may be at most ${MAX_SECRET_BYTES} bytes`);
  }
  if (declaration.pattern !== undefined && !new RegExp(declaration.pattern).test(value)) {
    throw new GatewayError(
      400,
      'invalid_secret',
      `${name} of server "${server}" must match the pattern ${declaration.pattern} (mcpServers.${server}.secrets.${name}.pattern)`,
    );
  }
}
