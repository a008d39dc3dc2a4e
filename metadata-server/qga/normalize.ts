// Turns qemu-ga answers into an ObservedGuest. guest-network-get-interfaces is what every agent
// has (names, MACs, addresses, no MTU); our extension adds MTU and link state where the agent is
// ours. Answers are validated: a guest controls them, so nothing in them is trusted for shape.
import { z } from "zod";
import type { ObservedCloudInit, ObservedGuest, ObservedGuestInterface } from "../observe/types.ts";

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

/** Where cloud-init writes its verdict when its last stage finishes; /run is empty again after a reboot. */
export const CLOUD_INIT_RESULT_PATH = "/run/cloud-init/result.json";

const CloudInitResult = z.object({
  v1: z.looseObject({
    datasource: z.string().max(4096).nullish(),
    errors: z.array(z.unknown()).max(1000),
  }),
});

/** cloud-init's result.json, as read from the guest; anything else is reported as an error of its own. */
export function cloudInitFromResult(text: string): ObservedCloudInit {
  let parsed;
  try {
    parsed = CloudInitResult.safeParse(JSON.parse(text));
  } catch {
    return { done: true, errors: [`${CLOUD_INIT_RESULT_PATH} is not JSON`] };
  }
  if (!parsed.success) return { done: true, errors: [`${CLOUD_INIT_RESULT_PATH} has an unexpected shape`] };
  const { datasource, errors } = parsed.data.v1;
  return {
    done: true,
    ...(datasource ? { datasource } : {}),
    errors: errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e)).slice(0, 4096)),
  };
}
