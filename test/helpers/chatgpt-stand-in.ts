/**
 * chatgpt.com as the gateway sees it in late 2026: Client ID Metadata Documents that declare
 * private_key_jwt (RS256) with a key set at https://chatgpt.com/oauth/jwks.json, played by a local
 * HTTPS server reached through the SSRF-safe fetch (stand-in-host.ts), and assertions signed with
 * the key that set publishes.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startStandInHost } from './stand-in-host.js';

export const CHATGPT_STABLE_ID = 'https://chatgpt.com/oauth/client.json';
export const CHATGPT_CONNECTOR_ID = 'https://chatgpt.com/oauth/cb-7f3e/client.json';
export const CHATGPT_JWKS_URI = 'https://chatgpt.com/oauth/jwks.json';
export const CHATGPT_KID = 'chatgpt-1';
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The documents by path: the stable one, and a per-connector one that also lists `none`. */
export const CHATGPT_DOCUMENTS: Record<string, Record<string, unknown>> = {
  '/oauth/client.json': {
    client_id: CHATGPT_STABLE_ID,
    client_name: 'ChatGPT',
    client_uri: 'https://chatgpt.com',
    redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'RS256',
    jwks_uri: CHATGPT_JWKS_URI,
  },
  '/oauth/cb-7f3e/client.json': {
    client_id: CHATGPT_CONNECTOR_ID,
    client_name: 'ChatGPT',
    redirect_uris: ['https://chatgpt.com/connector/oauth/cb-7f3e'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    jwks_uri: CHATGPT_JWKS_URI,
  },
};

export interface AssertionParts {
  /** Token endpoint or issuer the assertion is for. */
  aud: string | string[];
  clientId?: string;
  key?: CryptoKey | Uint8Array;
  kid?: string;
  alg?: string;
  expiresIn?: number;
  jti?: string;
}

export interface ChatGptStandIn {
  fetch: typeof fetch;
  /** How many times the key set was fetched from the stand-in host. */
  keySetFetches(): number;
  /** The form parameters of a client assertion (signed with ChatGPT's key unless `key` says otherwise). */
  assertion(parts: AssertionParts): Promise<Record<string, string>>;
  close(): void;
}

/** `otherwise` answers every URL off chatgpt.com (default: the gateway's own safe fetch). */
export async function startChatGptStandIn(otherwise?: typeof fetch): Promise<ChatGptStandIn> {
  const pair = await generateKeyPair('RS256');
  const published: JWK[] = [{ ...(await exportJWK(pair.publicKey)), kid: CHATGPT_KID, alg: 'RS256', use: 'sig' }];
  let keySetFetches = 0;
  const host = await startStandInHost(
    'chatgpt.com',
    (req, res) => {
      if (req.url === '/oauth/jwks.json') keySetFetches++;
      const body = req.url === '/oauth/jwks.json' ? { keys: published } : CHATGPT_DOCUMENTS[req.url ?? ''];
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? {}));
    },
    otherwise,
  );
  const assertion = async (parts: AssertionParts) => {
    const clientId = parts.clientId ?? CHATGPT_STABLE_ID;
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: parts.alg ?? 'RS256', kid: parts.kid ?? CHATGPT_KID })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(parts.aud)
      .setIssuedAt(now)
      .setExpirationTime(now + (parts.expiresIn ?? 60))
      .setJti(parts.jti ?? randomUUID())
      .sign(parts.key ?? pair.privateKey);
    return { client_assertion_type: ASSERTION_TYPE, client_assertion: jwt };
  };
  return { fetch: host.fetch, keySetFetches: () => keySetFetches, assertion, close: host.close };
}
