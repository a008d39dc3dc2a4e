// Host links from `ip -j -d link` output: the host layer of the MTU check when the inventory does
// not describe a host, or to check that what is configured on the host matches what it says.
import { z } from "zod";
import type { HostLink } from "../model/types.ts";

const IpLinkEntry = z.looseObject({
  ifname: z.string().min(1).max(64),
  mtu: z.int().min(0).max(1 << 20),
  link: z.string().optional(),
  master: z.string().optional(),
  operstate: z.string().optional(),
  linkinfo: z
    .looseObject({
      info_kind: z.string().optional(),
      info_slave_kind: z.string().optional(),
      info_data: z.looseObject({ id: z.int().optional() }).optional(),
    })
    .optional(),
});

export const IpLinkOutput = z.array(IpLinkEntry).max(100_000);

export type IpLinkParse = { links: HostLink[] } | { error: string };

/** Turns `ip -j -d link` JSON into host links: VLAN parents, bond members and bridge ports included. */
export function hostLinksFromIpLink(json: unknown): IpLinkParse {
  const parsed = IpLinkOutput.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    return { error: `not the output of "ip -j -d link": at [${first.path.join("][")}]: ${first.message}` };
  }
  const entries = parsed.data;
  const links: HostLink[] = entries
    .filter((e) => e.ifname !== "lo")
    .map((e) => {
      const kind = e.linkinfo?.info_kind;
      const membersOf = entries.filter((m) => m.master === e.ifname).map((m) => m.ifname);
      if (kind === "vlan") {
        return { name: e.ifname, type: "vlan", mtu: e.mtu, ...(e.link ? { parent: e.link } : {}), ...(e.linkinfo?.info_data?.id !== undefined ? { vlan: e.linkinfo.info_data.id } : {}) };
      }
      if (kind === "bond") return { name: e.ifname, type: "bond", mtu: e.mtu, members: membersOf };
      if (kind === "bridge") return { name: e.ifname, type: "bridge", mtu: e.mtu, members: membersOf };
      // Physical ports, veth, tunnels and anything else terminate the path walk.
      return { name: e.ifname, type: "nic", mtu: e.mtu };
    });
  return { links };
}
