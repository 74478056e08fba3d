import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretsKey } from '../lib/secrets-key.js';

/** One encrypted value as stored: ciphertext with its tag, nonce and key id (base64 / hex). */
export interface SealedValue {
  /** AES-256-GCM ciphertext followed by the 16-byte authentication tag, base64. */
  v: string;
  /** The 12-byte nonce, fresh for every value, base64. */
  n: string;
  /** Id of the key that sealed it (see SecretsKey.id), so rotation knows which key opens it. */
  k: string;
}

/** Whose value it is: bound as associated data, so a value moved to another record does not open. */
export interface SecretOwner {
  sub: string;
  server: string;
  name: string;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

// JSON of an array: unambiguous whatever characters the parts hold.
function associatedData({ sub, server, name }: SecretOwner): Buffer {
  return Buffer.from(JSON.stringify(['mcp-oauth-gateway/secret/v1', sub, server, name]), 'utf8');
}

export function seal(key: SecretsKey, owner: SecretOwner, plaintext: string): SealedValue {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(owner));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { v: body.toString('base64'), n: nonce.toString('base64'), k: key.id };
}

/** Why a sealed value did not open; the message names the secret, never its value. */
export class UnsealError extends Error {
  constructor(
    readonly owner: SecretOwner,
    readonly reason: 'unknown_key' | 'tampered',
    detail: string,
  ) {
    super(`secret ${owner.name} of server ${owner.server} (person ${owner.sub}) cannot be decrypted: ${detail}`);
    this.name = 'UnsealError';
  }
}

/** Opens a value with whichever of `keys` sealed it. */
export function unseal(keys: readonly SecretsKey[], owner: SecretOwner, sealed: SealedValue): string {
  const key = keys.find((candidate) => candidate.id === sealed.k);
  if (!key) {
    throw new UnsealError(
      owner,
      'unknown_key',
      `it was encrypted under key ${sealed.k}, and the configured key is ${keys.map((k) => k.id).join(' / ') || '(none)'}: ` +
        'configure that key as "previousSecretsKey" and run rotate-secrets-key',
    );
  }
  if (typeof sealed.v !== 'string' || typeof sealed.n !== 'string')
    throw new UnsealError(owner, 'tampered', 'the stored record is malformed');
  const nonce = Buffer.from(sealed.n, 'base64');
  const body = Buffer.from(sealed.v, 'base64');
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new UnsealError(owner, 'tampered', 'the stored record is malformed');
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData(owner));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new UnsealError(
      owner,
      'tampered',
      'the stored value was altered, or copied from another person, server or secret name (the authentication tag does not match)',
    );
  }
}
