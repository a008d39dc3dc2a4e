// guest-network-get-route (QEMU 9.1's shape) from /proc/net/route and /proc/net/ipv6_route.
import type { FsRoot } from "./fsroot.ts";
// IPv6 as qemu-ga prints it (inet_ntop, so compressed): "fe80::", not "fe80:0:0:0:0:0:0:0".
import { procHexToIpv6 } from "./network.ts";

function hexToIpv4(hex: string): string {
  // /proc/net/route prints addresses in host (little-endian) byte order.
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join(".");
}

export interface GuestNetworkRoute {
  iface: string; destination: string; metric: number; gateway?: string; mask?: string; irtt?: number;
  flags?: number; refcnt?: number; use?: number; window?: number; mtu?: number;
  desprefixlen?: string; source?: string; srcprefixlen?: string; nexthop?: string; version: number;
}

export function collectRoutes(fs: FsRoot): GuestNetworkRoute[] {
  const out: GuestNetworkRoute[] = [];
  const v4 = (fs.read("/proc/net/route") ?? "").split("\n").slice(1);
  for (const line of v4) {
    const f = line.trim().split(/\s+/);
    if (f.length < 11) continue;
    out.push({
      iface: f[0]!, destination: hexToIpv4(f[1]!), gateway: hexToIpv4(f[2]!), flags: parseInt(f[3]!, 16),
      refcnt: Number(f[4]), use: Number(f[5]), metric: Number(f[6]), mask: hexToIpv4(f[7]!),
      mtu: Number(f[8]), window: Number(f[9]), irtt: Number(f[10]), version: 4,
    });
  }
  for (const line of (fs.read("/proc/net/ipv6_route") ?? "").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    out.push({
      iface: f[9]!, destination: procHexToIpv6(f[0]!), desprefixlen: String(parseInt(f[1]!, 16)), source: procHexToIpv6(f[2]!),
      srcprefixlen: String(parseInt(f[3]!, 16)), nexthop: procHexToIpv6(f[4]!), metric: parseInt(f[5]!, 16),
      refcnt: parseInt(f[6]!, 16), use: parseInt(f[7]!, 16), flags: parseInt(f[8]!, 16), version: 6,
    });
  }
  return out;
}
