import { Router } from 'express';
import type { ResourceCatalog } from '../../authz/resources.js';
import { RESOURCE_SCOPES } from '../../authz/scopes.js';
import { openCors } from '../../web/cors.js';

/** RFC 9728 metadata, one document per MCP server. */
export function protectedResourceRouter(publicUrl: string, resources: ResourceCatalog): Router {
  const router = Router();
  router.use('/.well-known/oauth-protected-resource', openCors());
  router.get('/.well-known/oauth-protected-resource/mcp/:name', (req, res) => {
    const name = String(req.params.name);
    const resource = resources.urlFor(name);
    if (!resources.serverFor(resource)) {
      res.status(404).json({ error: 'not_found', error_description: `no MCP server named "${name}"` });
      return;
    }
    res.json({
      resource,
      authorization_servers: [publicUrl],
      scopes_supported: [...RESOURCE_SCOPES],
      bearer_methods_supported: ['header'],
      resource_name: name,
    });
  });
  return router;
}
