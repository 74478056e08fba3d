import { Router, type NextFunction, type Request, type Response } from 'express';
import type { ResourceCatalog } from '../authz/resources.js';
import { MCP_SCOPE } from '../authz/scopes.js';
import { openCors } from '../http/cors.js';
import { AccessTokenVerifier, InvalidAccessToken, type VerifiedAccessToken } from './token-verifier.js';

declare module 'node:http' {
  interface IncomingMessage {
    auth?: { token: VerifiedAccessToken; server: string };
  }
}

export function metadataUrl(publicUrl: string, serverName: string): string {
  return `${publicUrl}/.well-known/oauth-protected-resource/mcp/${serverName}`;
}

/** RFC 9728 metadata per server, and the bearer check in front of every /mcp/<name> request. */
export function protectedResourceRouter(publicUrl: string, resources: ResourceCatalog, verifier: AccessTokenVerifier): Router {
  const router = Router();
  const cors = openCors(['WWW-Authenticate', 'Mcp-Session-Id']);

  router.use('/.well-known/oauth-protected-resource', cors);
  router.get('/.well-known/oauth-protected-resource/mcp/:name', (req, res) => {
    const name = String(req.params.name);
    const resource = resources.serverFor(resources.urlFor(name)) ? resources.urlFor(name) : undefined;
    if (!resource) {
      res.status(404).json({ error: 'not_found', error_description: `no MCP server named "${name}"` });
      return;
    }
    res.json({
      resource,
      authorization_servers: [publicUrl],
      scopes_supported: [MCP_SCOPE],
      bearer_methods_supported: ['header'],
      resource_name: name,
    });
  });

  function challenge(res: Response, serverName: string, error?: { code: string; description: string }): void {
    const parts = [`resource_metadata="${metadataUrl(publicUrl, serverName)}"`, `scope="${MCP_SCOPE}"`];
    if (error) parts.push(`error="${error.code}"`, `error_description="${error.description.replace(/["\\]/g, '')}"`);
    res.set('WWW-Authenticate', `Bearer ${parts.join(', ')}`);
    res.status(401).json({ error: error?.code ?? 'unauthorized', error_description: error?.description ?? 'a bearer token is required' });
  }

  async function requireToken(req: Request, res: Response, next: NextFunction): Promise<void> {
    const name = String(req.params.name);
    const resource = resources.urlFor(name);
    if (!resources.serverFor(resource)) {
      res.status(404).json({ error: 'not_found', error_description: `no MCP server named "${name}"` });
      return;
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
    if (!match) {
      challenge(res, name);
      return;
    }
    try {
      const token = await verifier.verify(match[1]!, resource);
      req.auth = { token, server: name };
      // The token is for the gateway alone; it never travels further.
      delete req.headers.authorization;
      next();
    } catch (error) {
      challenge(res, name, { code: 'invalid_token', description: error instanceof InvalidAccessToken ? error.message : 'invalid token' });
    }
  }

  router.use('/mcp/:name', cors);
  router.all('/mcp/:name', requireToken, (req, res) => {
    // The stdio bridge (issue [2]) serves authenticated requests here.
    res.status(501).json({ jsonrpc: '2.0', id: null, error: { code: -32603, message: `the MCP bridge for "${req.auth!.server}" is not available in this version yet` } });
  });

  return router;
}
