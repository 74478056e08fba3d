import { createHash, randomBytes } from 'node:crypto';

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: string;
  [key: string]: unknown;
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export async function register(
  baseUrl: string,
  metadata: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function registerClient(baseUrl: string, metadata: Record<string, unknown>): Promise<RegisteredClient> {
  const { status, body } = await register(baseUrl, metadata);
  if (status !== 201) throw new Error(`registration failed: ${status} ${JSON.stringify(body)}`);
  return body as unknown as RegisteredClient;
}

export interface AuthorizeParams {
  client: RegisteredClient;
  redirectUri?: string;
  challenge?: string;
  method?: string;
  resource?: string;
  scope?: string;
  state?: string;
  extra?: Record<string, string>;
}

export function authorizeUrl(baseUrl: string, p: AuthorizeParams): string {
  const url = new URL(`${baseUrl}/authorize`);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', p.client.client_id);
  url.searchParams.set('redirect_uri', p.redirectUri ?? p.client.redirect_uris[0]!);
  if (p.challenge !== undefined) url.searchParams.set('code_challenge', p.challenge);
  if (p.method !== undefined) url.searchParams.set('code_challenge_method', p.method);
  if (p.resource !== undefined) url.searchParams.set('resource', p.resource);
  if (p.scope !== undefined) url.searchParams.set('scope', p.scope);
  url.searchParams.set('state', p.state ?? randomBytes(8).toString('hex'));
  for (const [k, v] of Object.entries(p.extra ?? {})) url.searchParams.set(k, v);
  return url.toString();
}

function clientAuth(client: RegisteredClient, body: URLSearchParams, headers: Record<string, string>): void {
  switch (client.token_endpoint_auth_method) {
    case 'client_secret_basic': {
      const credentials = `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret!)}`;
      headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
      break;
    }
    case 'client_secret_post':
      body.set('client_id', client.client_id);
      body.set('client_secret', client.client_secret!);
      break;
    default:
      body.set('client_id', client.client_id);
  }
}

export interface TokenResult {
  status: number;
  body: Record<string, unknown> & { access_token?: string; refresh_token?: string; error?: string; error_description?: string };
}

export async function tokenRequest(baseUrl: string, client: RegisteredClient, params: Record<string, string>): Promise<TokenResult> {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  clientAuth(client, body, headers);
  const response = await fetch(`${baseUrl}/token`, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as TokenResult['body'] };
}

export function exchangeCode(
  baseUrl: string,
  client: RegisteredClient,
  code: string,
  verifier: string,
  extra: Record<string, string> = {},
): Promise<TokenResult> {
  return tokenRequest(baseUrl, client, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: client.redirect_uris[0]!,
    ...extra,
  });
}

export function refresh(
  baseUrl: string,
  client: RegisteredClient,
  refreshToken: string,
  extra: Record<string, string> = {},
): Promise<TokenResult> {
  return tokenRequest(baseUrl, client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>,
  };
}
