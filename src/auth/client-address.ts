/**
 * Client addresses as counters see them. One client must not get a fresh budget by spelling its
 * address another way (`::ffff:203.0.113.9` is `203.0.113.9`, `2001:DB8:0:0::1` is `2001:db8::1`)
 * or by moving within the /64 an IPv6 subscriber is handed (RFC 6177: a site gets a /48 or /56,
 * each link a /64).
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** `ip` in one spelling (dotted IPv4, RFC 5952 IPv6, IPv4-mapped IPv6 as IPv4), or undefined when it is not an address. */
export function canonicalAddress(ip: string | null | undefined): string | undefined {
  // isIP first: ipaddr.js also reads `127.1` and `0x7f.0.0.1`, which no proxy writes.
  if (typeof ip !== 'string' || isIP(ip) === 0) return undefined;
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  return (address as ipaddr.IPv6).toRFC5952String().replace(/%.*$/, '');
}

/**
 * The key a per-client counter uses for `ip`: the IPv4 address, or the IPv6 network of
 * `ipv6PrefixBits` (`2001:db8::/64`). Requests whose address is unknown share one key.
 */
export function clientAddressKey(ip: string | null | undefined, ipv6PrefixBits: number): string {
  const canonical = canonicalAddress(ip);
  if (canonical === undefined) return 'unknown';
  const address = ipaddr.parse(canonical);
  if (address.kind() === 'ipv4' || ipv6PrefixBits >= 128) return canonical;
  const bytes = address.toByteArray();
  for (let bit = ipv6PrefixBits; bit < 128; bit++) {
    const index = bit >> 3;
    bytes[index] = (bytes[index] ?? 0) & ~(0x80 >> (bit & 7));
  }
  const network = ipaddr.fromByteArray(bytes) as ipaddr.IPv6;
  return `${network.toRFC5952String()}/${ipv6PrefixBits}`;
}
