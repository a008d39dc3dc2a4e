// Peer addresses in one canonical spelling, so "::ffff:10.0.0.5" from a dual-stack socket and
// "10.0.0.5" from the inventory are the same key. Pure.
import { canonicalIp } from "../model/addr.ts";

const PLAIN_IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Canonical text of an address: IPv4-mapped IPv6 becomes plain IPv4, zone ids are dropped. */
export function canonicalAddress(address: string | undefined): string | undefined {
  if (!address) return undefined;
  // The common case, and what sockets report for IPv4 peers: already canonical.
  if (PLAIN_IPV4.test(address)) return address;
  let a = address;
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  return canonicalIp(a);
}
