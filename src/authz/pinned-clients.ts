import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { sourceDir } from '../paths.js';

type ClientMetadata = Record<string, unknown> & { client_id: string };

function loadPins(): Map<string, ClientMetadata> {
  const raw = JSON.parse(readFileSync(resolve(sourceDir, 'authz', 'pinned-client-metadata.json'), 'utf8')) as Record<string, unknown>;
  const pins = new Map<string, ClientMetadata>();
  for (const [id, document] of Object.entries(raw)) {
    if (id.startsWith('$')) continue;
    const metadata = document as ClientMetadata;
    if (metadata.client_id !== id) throw new Error(`pinned client metadata for ${id} has a different client_id`);
    pins.set(id, metadata);
  }
  return pins;
}

/** Client ID Metadata Documents served from the project instead of fetched. */
export const pinnedClients: ReadonlyMap<string, ClientMetadata> = loadPins();
