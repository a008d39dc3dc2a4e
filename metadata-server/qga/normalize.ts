// Turns qemu-ga answers into an ObservedGuest. guest-network-get-interfaces is what every agent
// has (names, MACs, addresses, no MTU); our extension adds MTU and link state where the agent is
// ours. Answers are validated: a guest controls them, so nothing in them is trusted for shape.
import { z } from "zod";
import type { ObservedGuest, ObservedGuestInterface } from "../observe/types.ts";

const MAX_INTERFACES = 1024;
const MAX_ADDRESSES = 1024;

const IpAddress = z.looseObject({ "ip-address": z.string().max(64), "ip-address-type": z.enum(["ipv4", "ipv6"]), prefix: z.int().min(0).max(128) });

export const GetInterfacesAnswer = z.array(z.looseObject({
  name: z.string().min(1).max(64),
  "hardware-address": z.string().max(64).optional(),
  "ip-addresses": z.array(IpAddress).max(MAX_ADDRESSES).optional(),
})).max(MAX_INTERFACES);

export const GetLinksAnswer = z.array(z.looseObject({
  name: z.string().min(1).max(64),
  "hardware-address": z.string().max(64).optional(),
  operstate: z.string().max(32),
  carrier: z.boolean().optional(),
  mtu: z.int().min(0).max(1 << 20),
  "ipv6-mtu": z.int().min(0).max(1 << 20).optional(),
  "ip-addresses": z.array(IpAddress).max(MAX_ADDRESSES).optional(),
})).max(MAX_INTERFACES);

export type GetInterfaces = z.infer<typeof GetInterfacesAnswer>;
export type GetLinks = z.infer<typeof GetLinksAnswer>;

export function observedFromQga(vmId: string, source: string, at: string, interfaces: GetInterfaces, links?: GetLinks): ObservedGuest {
  const byName = new Map((links ?? []).map((l) => [l.name, l]));
  const out: ObservedGuestInterface[] = [];
  for (const i of interfaces) {
    const mac = (i["hardware-address"] ?? "").toLowerCase();
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || mac === "00:00:00:00:00:00") continue; // loopback, tunnels
    const link = byName.get(i.name);
    out.push({
      name: i.name, mac,
      addresses: (i["ip-addresses"] ?? []).map((a) => `${a["ip-address"]}/${a.prefix}`),
      ...(link ? { mtu: link.mtu, operstate: link.operstate, ...(link.carrier !== undefined ? { carrier: link.carrier } : {}), ...(link["ipv6-mtu"] !== undefined ? { ipv6Mtu: link["ipv6-mtu"] } : {}) } : {}),
    });
  }
  return { vmId, source, at, interfaces: out };
}

/** A global unicast address: what VDSM waits for before it slows its boot-time polling. */
export function hasRoutableAddress(guest: ObservedGuest): boolean {
  return guest.interfaces.some((i) => i.addresses.some((a) => {
    const ip = a.split("/")[0]!.toLowerCase();
    if (ip.includes(":")) return !(ip.startsWith("fe80") || ip === "::1" || ip.startsWith("ff"));
    return !(ip.startsWith("127.") || ip.startsWith("169.254."));
  }));
}
