import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { isLoopbackHost } from '../../net/loopback.js';

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

const hostForUrl = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/**
 * The URL the other replicas can reach this one at, when `cluster.advertiseUrl` does not say:
 * loopback when it listens on loopback (replicas on one machine), the address it listens on when
 * that is a single one, else its first IPv4 address that is not internal (a container's or
 * host's own address), and loopback when it has none.
 */
export function detectAdvertiseUrl(
  listenHost: string,
  port: number,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string {
  if (isLoopbackHost(listenHost)) return `http://${hostForUrl(listenHost === 'localhost' ? '127.0.0.1' : listenHost)}:${port}`;
  if (!WILDCARD_HOSTS.has(listenHost)) return `http://${hostForUrl(listenHost)}:${port}`;
  const external = Object.values(interfaces)
    .flat()
    .find((address) => address?.family === 'IPv4' && !address.internal);
  return `http://${external?.address ?? '127.0.0.1'}:${port}`;
}
