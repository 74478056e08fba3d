import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * A token response kept for a few seconds so a repeated exchange gets the same answer, without
 * the store ever holding it readable: it is found by a hash of the presented token and client,
 * and sealed (AES-256-GCM) with a key derived from everything the request presented. Only a
 * request carrying the same token, client and parameters (PKCE verifier, redirect_uri, resource,
 * scope) can find and open it; reading the store gives neither the response nor the token.
 */
export interface TokenExchangeRequest {
  grantType: string;
  clientId: string;
  /** The refresh token or authorization code presented. */
  presented: string;
  /** The grant's other parameters as the client sent them. */
  params: Readonly<Record<string, unknown>>;
}

const LOOKUP_LABEL = 'mcpgw token replay lookup v1';
const KEY_LABEL = 'mcpgw token replay key v1';

function digest(...parts: string[]): Buffer {
  const hash = createHash('sha256');
  // Length-prefixed, so no two different part lists hash alike.
  for (const part of parts) hash.update(`${Buffer.byteLength(part)}:${part}`);
  return hash.digest();
}

/** The same for every repeat of one exchange by one client, whatever its other parameters. */
export function replayLookupId(request: TokenExchangeRequest): string {
  return digest(LOOKUP_LABEL, request.grantType, request.clientId, request.presented).toString('base64url');
}

/** Parameters in a fixed order, values as sent, so a repeat that differs in any of them derives another key. */
function canonicalParams(params: Readonly<Record<string, unknown>>): string {
  const defined = Object.entries(params).filter(([, value]) => value !== undefined);
  return JSON.stringify(defined.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sealingKey(request: TokenExchangeRequest): Buffer {
  return digest(KEY_LABEL, request.grantType, request.clientId, request.presented, canonicalParams(request.params));
}

/** base64url of iv ‖ tag ‖ ciphertext. */
export function sealResponse(request: TokenExchangeRequest, response: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(request), iv);
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(response), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
}

/** The response, or undefined when this request differs from the one that was answered. */
export function openResponse(request: TokenExchangeRequest, sealed: string): unknown {
  const bytes = Buffer.from(sealed, 'base64url');
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(request), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8'));
  } catch {
    return undefined;
  }
}
