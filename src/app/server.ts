import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { openStore } from '../storage/open-store.js';
import type { KeyValueStore } from '../storage/store.js';
import { createGateway, type Gateway, type GatewayOptions } from './compose.js';

export interface RunningGateway {
  gateway: Gateway;
  server: Server;
  store: KeyValueStore;
  /** The address actually listened on (port 0 picks a free one). */
  address: AddressInfo;
  close(): Promise<void>;
}

/** Opens the store, composes the gateway, listens (port 0 picks a free one) and joins the cluster. */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  store = openStore(config.storage),
  extra: Pick<GatewayOptions, 'fetch'> = {},
): Promise<RunningGateway> {
  await store.ping();
  const gateway = await createGateway({ config, store, logger, ...extra });
  let draining = false;
  const server = createServer((req, res) => {
    // A request arriving on an old keep-alive connection during shutdown: another replica (or this
    // one after its restart) will take it.
    if (draining) {
      res.writeHead(503, { 'Retry-After': '1', Connection: 'close', 'Content-Type': 'application/json' }).end('{"error":"shutting_down"}');
      return;
    }
    const serverName = gateway.mcp.match(req.url);
    if (serverName) gateway.mcp.serve(req, res, serverName);
    else gateway.app(req, res);
  });
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // streaming MCP responses may stay open for a long time
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolvePromise());
  });
  const address = server.address() as AddressInfo;
  await gateway.joinCluster(address);
  let closing: Promise<void> | undefined;
  /**
   * Graceful stop: leave the replica directory, stop accepting, let requests in flight finish
   * until `shutdownDeadline`, then answer whatever is still running with an error, stop the stdio
   * servers (stdin closed, then SIGTERM, then SIGKILL) and close the store.
   */
  const close = () => {
    closing ??= (async () => {
      draining = true;
      await gateway.leaveCluster();
      const drained = new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
      gateway.mcp.closeEventStreams();
      server.closeIdleConnections();
      await settleWithin(drained, config.shutdownDeadline * 1000);
      await gateway.bridge.close();
      // The error answers just written need a moment to reach their clients.
      await settleWithin(drained, 1000);
      server.closeAllConnections();
      gateway.releaseConnections();
      await store.close();
    })();
    return closing;
  };
  return { gateway, server, store, address, close };
}

/** Waits for `promise`, but no longer than `ms`. */
async function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolvePromise) => {
      timer = setTimeout(resolvePromise, ms);
    }),
  ]);
  clearTimeout(timer);
}
