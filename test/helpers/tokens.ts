import { ALICE } from './gateway.js';
import { authorizeWithPassword, HttpBrowser } from './http-browser.js';
import { authorizeUrl, exchangeCode, pkcePair, registerClient, type RegisteredClient } from './oauth-client.js';

/** Runs the whole OAuth flow for a user and returns their tokens for one MCP server. */
export async function obtainTokens(
  baseUrl: string,
  server: string,
  user = ALICE,
): Promise<{ access_token: string; refresh_token: string; client: RegisteredClient }> {
  const client = await registerClient(baseUrl, {
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    token_endpoint_auth_method: 'none',
    client_name: 'test client',
  });
  const { verifier, challenge } = pkcePair();
  const landed = await authorizeWithPassword(
    new HttpBrowser(baseUrl),
    authorizeUrl(baseUrl, { client, challenge, method: 'S256', resource: `${baseUrl}/mcp/${server}` }),
    user,
  );
  const tokens = await exchangeCode(baseUrl, client, landed.searchParams.get('code')!, verifier);
  if (tokens.status !== 200) throw new Error(`token exchange failed: ${JSON.stringify(tokens.body)}`);
  return { access_token: tokens.body.access_token!, refresh_token: tokens.body.refresh_token!, client };
}
