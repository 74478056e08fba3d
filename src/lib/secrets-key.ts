import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { inspect } from 'node:util';

export const SECRETS_KEY_BYTES = 32;

/**
 * The vault's AES-256 key. Its bytes never reach a log line or JSON: `toJSON` and `inspect`
 * print only the key id, a digest that names the key (stored next to each value, for rotation)
 * without revealing it.
 */
export class SecretsKey {
  readonly id: string;

  constructor(readonly bytes: Buffer) {
    if (bytes.length !== SECRETS_KEY_BYTES) throw new Error(`a secrets key is ${SECRETS_KEY_BYTES} bytes, not ${bytes.length}`);
    this.id = createHash('sha256').update('mcp-oauth-gateway secrets key id\0').update(bytes).digest('hex').slice(0, 16);
  }

  toJSON(): string {
    return `[secrets key ${this.id}]`;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }

  toString(): string {
    return this.toJSON();
  }
}

const HOW_TO_MAKE_ONE = 'generate one with `openssl rand -base64 32`';
const WRITTEN_AS = 'written as base64 (44 characters) or hex (64 characters)';

/** The key's bytes from its written form: 64 hex digits, or base64/base64url (43 or 44 characters). */
export function decodeSecretsKey(text: string): Buffer {
  const written = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(written)) return Buffer.from(written, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(written)) {
    const bytes = Buffer.from(written.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === SECRETS_KEY_BYTES) return bytes;
    throw new Error(`must be ${SECRETS_KEY_BYTES} bytes, ${WRITTEN_AS}; this one is ${bytes.length} bytes (${HOW_TO_MAKE_ONE})`);
  }
  throw new Error(`must be ${SECRETS_KEY_BYTES} random bytes, ${WRITTEN_AS}: ${HOW_TO_MAKE_ONE}`);
}

/**
 * A key as written in the config: the key itself (usually "${GATEWAY_SECRETS_KEY}"), or
 * "file:/absolute/path" naming a file that holds it (a Docker or Kubernetes secret).
 * Errors never repeat the key.
 */
export function readSecretsKey(written: string): SecretsKey {
  if (written.startsWith('file:')) {
    const path = written.slice('file:'.length);
    if (!isAbsolute(path)) throw new Error(`"file:" must be followed by an absolute path, e.g. "file:/run/secrets/gateway_secrets_key"`);
    let contents: string;
    try {
      contents = readFileSync(path, 'utf8');
    } catch (error) {
      throw new Error(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
    }
    try {
      return new SecretsKey(decodeSecretsKey(contents));
    } catch (error) {
      throw new Error(`the key in ${path} ${(error as Error).message}`, { cause: error });
    }
  }
  if (written.trim() === '') throw new Error(`is empty (${HOW_TO_MAKE_ONE}, and export it as GATEWAY_SECRETS_KEY)`);
  return new SecretsKey(decodeSecretsKey(written));
}
