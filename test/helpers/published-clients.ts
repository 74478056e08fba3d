/**
 * claude.ai and vscode.dev as the gateway sees them: the Client ID Metadata Documents of Claude.ai,
 * Claude Code and VS Code as their clients publish them (see src/clients/client-profiles.json for
 * where each field comes from), served by local HTTPS stand-ins reached through the gateway's own
 * SSRF-safe fetch (stand-in-host.ts). A document can be switched to an outage page (HTML) or to
 * an invalid document, as their hosts have served.
 */
import { startStandInHost, type StandInHost } from './stand-in-host.js';

export const CLAUDE_AI_ID = 'https://claude.ai/oauth/mcp-oauth-client-metadata';
export const CLAUDE_CODE_ID = 'https://claude.ai/oauth/claude-code-client-metadata';
export const VSCODE_ID = 'https://vscode.dev/oauth/client-metadata.json';

/** By URL. Claude Code's redirect URIs and missing application_type are as reported; the rest is the usual public-client shape. */
export const PUBLISHED_DOCUMENTS: Record<string, Record<string, unknown>> = {
  [CLAUDE_AI_ID]: {
    client_id: CLAUDE_AI_ID,
    client_name: 'Claude',
    client_uri: 'https://claude.ai',
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  },
  [CLAUDE_CODE_ID]: {
    client_id: CLAUDE_CODE_ID,
    client_name: 'Claude Code',
    redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  },
  [VSCODE_ID]: {
    client_id: VSCODE_ID,
    client_name: 'Visual Studio Code',
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1:33418/', 'https://vscode.dev/redirect'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  },
};

/** What a document URL serves: the document, an outage page, or a document that fails validation. */
export type Serving = 'document' | 'html' | 'invalid';

const OUTAGE_PAGE = '<!doctype html><html><head><title>Claude</title></head><body>Something went wrong</body></html>';

export interface PublishedClients {
  fetch: typeof fetch;
  /** How many times each URL was fetched. */
  fetches(url: string): number;
  serve(url: string, serving: Serving): void;
  close(): void;
}

/** Stand-ins for claude.ai and vscode.dev; every other URL goes to `otherwise` (default: the safe fetch). */
export async function startPublishedClients(otherwise?: typeof fetch): Promise<PublishedClients> {
  const counts = new Map<string, number>();
  const serving = new Map<string, Serving>();
  const handlerFor = (host: string) => (req: { url?: string }, res: import('node:http').ServerResponse) => {
    const url = `https://${host}${req.url ?? '/'}`;
    counts.set(url, (counts.get(url) ?? 0) + 1);
    const document = PUBLISHED_DOCUMENTS[url];
    const mode = serving.get(url) ?? 'document';
    if (!document) {
      res.writeHead(404, { 'content-type': 'text/html' }).end(OUTAGE_PAGE);
    } else if (mode === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(OUTAGE_PAGE);
    } else {
      const body = mode === 'invalid' ? { ...document, redirect_uris: ['javascript:alert(1)'] } : document;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }
  };
  const vscode: StandInHost = await startStandInHost('vscode.dev', handlerFor('vscode.dev'), otherwise);
  const claude: StandInHost = await startStandInHost('claude.ai', handlerFor('claude.ai'), vscode.fetch);
  return {
    fetch: claude.fetch,
    fetches: (url) => counts.get(url) ?? 0,
    serve: (url, mode) => serving.set(url, mode),
    close: () => {
      claude.close();
      vscode.close();
    },
  };
}
