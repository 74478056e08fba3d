import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { unmapIpv4 } from '../net/address-policy.js';

/** Express's `trust proxy` setting for `trustProxy: true`; clientIp below picks the same address for the MCP path. */
export const TRUSTED_PROXIES = 'loopback, linklocal, uniquelocal';

const trusted = new BlockList();
trusted.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
trusted.addAddress('::1', 'ipv6');
trusted.addSubnet('169.254.0.0', 16, 'ipv4'); // linklocal
trusted.addSubnet('fe80::', 10, 'ipv6');
trusted.addSubnet('10.0.0.0', 8, 'ipv4'); // uniquelocal
trusted.addSubnet('172.16.0.0', 12, 'ipv4');
trusted.addSubnet('192.168.0.0', 16, 'ipv4');
trusted.addSubnet('fc00::', 7, 'ipv6');

function isTrustedProxy(address: string): boolean {
  const plain = unmapIpv4(address);
  const family = isIP(plain);
  return family !== 0 && trusted.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The client's address for requests that do not go through Express (the MCP fast path), chosen
 * as Express chooses `req.ip` with `trust proxy` set to TRUSTED_PROXIES: the socket address, or,
 * with trustProxy, the nearest X-Forwarded-For hop that is not itself a trusted proxy.
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  let address = req.socket.remoteAddress ?? 'unknown';
  if (!trustProxy) return address;
  const header = req.headers['x-forwarded-for'];
  if (!header) return address;
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
  for (let i = hops.length - 1; i >= 0 && isTrustedProxy(address); i--) {
    const hop = hops[i]!.trim();
    if (hop) address = hop;
  }
  return address;
}
