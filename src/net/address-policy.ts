import { BlockList, isIP } from 'node:net';

/**
 * Which IP addresses an outbound fetch driven by client input may connect to: public unicast
 * only. Everything special-use (IANA special-purpose registries) is refused: loopback, private,
 * shared (CGNAT), link-local, multicast, unspecified, documentation, benchmarking, reserved, and
 * the IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) when that address is refused.
 */

const IPV4_SPECIAL: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network / unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared address space (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.31.196.0', 24, 'AS112'],
  ['192.52.193.0', 24, 'AMT'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['192.175.48.0', 24, 'AS112'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved / broadcast'],
];

/** Inside 2000::/3 (the only global unicast space); anything outside it is refused outright. */
const IPV6_SPECIAL: Array<[string, number, string]> = [
  ['2001::', 23, 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'],
  ['2001:db8::', 32, 'documentation'],
  ['2620:4f:8000::', 48, 'AS112'],
  ['3fff::', 20, 'documentation'],
];

const v4Rules = new BlockList();
const v4Reasons: Array<[BlockList, string]> = IPV4_SPECIAL.map(([network, prefix, reason]) => {
  const single = new BlockList();
  single.addSubnet(network, prefix, 'ipv4');
  v4Rules.addSubnet(network, prefix, 'ipv4');
  return [single, reason];
});
const globalUnicast = new BlockList();
globalUnicast.addSubnet('2000::', 3, 'ipv6');
const v6Reasons: Array<[BlockList, string]> = IPV6_SPECIAL.map(([network, prefix, reason]) => {
  const single = new BlockList();
  single.addSubnet(network, prefix, 'ipv6');
  return [single, reason];
});

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part and a %zone allowed). */
export function ipv6Groups(address: string): number[] | undefined {
  let text = address.split('%')[0]!.toLowerCase();
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (dotted) {
    if (isIP(dotted[1]!) !== 4) return undefined;
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part ? part.split(':').map((group) => Number.parseInt(group, 16)) : []);
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : undefined;
}

const v4From = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

function ipv4Problem(address: string): string | undefined {
  if (!v4Rules.check(address, 'ipv4')) return undefined;
  return v4Reasons.find(([rule]) => rule.check(address, 'ipv4'))![1];
}

function ipv6Problem(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (!g) return 'not an IPv6 address';
  const zeros = (from: number, to: number) => g.slice(from, to).every((group) => group === 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  // Forms that carry an IPv4 address: judged by that address.
  if (zeros(0, 5) && g[5] === 0xffff) return embedded('IPv4-mapped', v4From(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return embedded('NAT64', v4From(g[6]!, g[7]!));
  if (g[0] === 0x2002) return embedded('6to4', v4From(g[1]!, g[2]!));
  if (zeros(0, 6)) return 'IPv4-compatible (deprecated)';
  const canonical = g.map((group) => group.toString(16)).join(':');
  if (!globalUnicast.check(canonical, 'ipv6')) {
    if (g[0]! >= 0xff00) return 'multicast';
    if ((g[0]! & 0xfe00) === 0xfc00) return 'unique local (private)';
    if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
    return 'not global unicast';
  }
  return v6Reasons.find(([rule]) => rule.check(canonical, 'ipv6'))?.[1];
}

function embedded(form: string, v4: string): string | undefined {
  const problem = ipv4Problem(v4);
  return problem ? `${form} ${v4}: ${problem}` : undefined;
}

/** Why `address` (an IP literal) must not be connected to, or undefined when it is public. */
export function forbiddenAddressReason(address: string): string | undefined {
  const plain = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(plain.split('%')[0]!);
  if (family === 4) return ipv4Problem(plain);
  if (family === 6) return ipv6Problem(plain);
  return 'not an IP address';
}

export const isPublicAddress = (address: string): boolean => forbiddenAddressReason(address) === undefined;

/** An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as dual-stack sockets report IPv4 peers) as its IPv4 address; others as given. */
export function unmapIpv4(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1]! : address;
}
