import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { openStore } from '../storage/open-store.js';
import type { KeyValueStore } from '../storage/store.js';
import { createGateway, type Gateway, type GatewayOptions } from './app.js';

export interface RunningGateway {
  gateway: Gateway;
  server: Server;
  store: KeyValueStore;
  /** The address actually listened on (port 0 picks a free one). */
  address: AddressInfo;
  close(): Promise<void>;
}

const SHUTDOWN_DEADLINE_MS = 10_000;

export async function startGateway(config: GatewayConfig, logger: Logger, store = openStore(config.storage), extra: Pick<GatewayOptions, 'fetch'> = {}): Promise<RunningGateway> {
  await store.ping();
  const gateway = await createGateway({ config, store, logger, ...extra });
  const server = createServer((req, res) => {
    const mcpServer = gateway.mcp.match(req.url);
    if (mcpServer) gateway.mcp.serve(req, res, mcpServer);
    else gateway.app(req, res);
  });
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // streaming MCP responses may stay open for a long time
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolvePromise());
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await gateway.leaveCluster();
      await new Promise<void>((resolvePromise) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
          resolvePromise();
        }, SHUTDOWN_DEADLINE_MS);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolvePromise();
        });
        gateway.bridge.closeEventStreams();
        server.closeIdleConnections();
      });
      gateway.stopForwarding();
      await gateway.bridge.close();
      await store.close();
    })();
    return closing;
  };
  return { gateway, server, store, address, close };
}
