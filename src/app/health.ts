import { Router } from 'express';
import { storageReachable } from '../storage/storage-reachable.js';
import type { KeyValueStore } from '../storage/store.js';

/** What /readyz needs of the replica directory (with Redis storage): whether two replicas claim one address. */
export interface ReplicaHealth {
  readonly duplicate?: unknown;
}

/** /healthz (the process answers) and /readyz (storage reachable, replicas distinct). */
export function healthRoutes(store: KeyValueStore, replicas: ReplicaHealth | undefined): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (await storageReachable(store)) res.json({ status: 'ready', storage: 'ok', ...replicaReadiness(replicas) });
    else res.status(503).set('Retry-After', '5').json({ status: 'unavailable', storage: 'unreachable' });
  });
  return router;
}

/** What /readyz says about the replicas: addresses only in the log, which the public cannot read. */
function replicaReadiness(replicas: ReplicaHealth | undefined): Record<string, string> {
  if (!replicas) return {};
  if (!replicas.duplicate) return { replicas: 'ok' };
  return {
    replicas: 'duplicate-address',
    warning: 'two replicas advertise the same address (see the gateway log): give each its own cluster.advertiseUrl',
  };
}
