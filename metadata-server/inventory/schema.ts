// The inventory file format (YAML), as zod schemas. Objects are strict: an unknown key is almost
// always a typo ("gatway"), and a silently ignored typo is a guest that boots without its route.
// Shapes are checked here; relations between objects (unknown network, duplicate MAC, address
// outside its subnet, impossible MTU) are checked by model/resolve.ts, which sees the whole site.
import { z } from "zod";
import { parseCidr, parseIp, parseIpv4, parseIpv6, parseMac } from "../model/addr.ts";

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { error: "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit" });

/** Guest and host interface names: the Linux limit is 15 bytes (IFNAMSIZ - 1). */
const ifname = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,15}$/, { error: "must be a Linux interface name: 1-15 letters, digits, '.', '_' or '-'" });

const ipv4 = z.string().refine((s) => parseIpv4(s) !== undefined, { error: "must be an IPv4 address like 192.0.2.10" });
const ipv6 = z.string().refine((s) => parseIpv6(s) !== undefined, { error: "must be an IPv6 address like 2001:db8::10" });
const ip = z.string().refine((s) => parseIp(s) !== undefined, { error: "must be an IPv4 or IPv6 address" });
const cidr = z.string().superRefine((s, ctx) => {
  const c = parseCidr(s);
  if ("error" in c) ctx.addIssue({ code: "custom", message: `${JSON.stringify(s)} ${c.error}` });
});
const mac = z.string().refine((s) => parseMac(s) !== undefined, { error: "must be a MAC address like 52:54:00:12:34:56" });
const uuid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, { error: "must be a UUID like 7c9e6679-7425-40de-944b-e07fc1f90ae7" });
/** Any integer; the MTU rules (model/mtu.ts) judge the value against the network it belongs to. */
const mtu = z.int({ error: "must be a whole number of bytes" });
const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, { error: "must be a DNS host name (letters, digits and '-', labels up to 63)" });

export const RouteSchema = z.strictObject({
  to: cidr,
  via: ip,
  metric: z.int().min(0).max(4294967295).optional(),
});

export const DnsSchema = z.strictObject({
  servers: z.array(ip).max(8).default([]),
  search: z.array(hostname).max(6).default([]),
});

const RangeSchema = z.strictObject({ start: ip, end: ip });

export const NetworkSchema = z.strictObject({
  name,
  type: z.enum(["bridge", "sriov", "ovn", "neutron-ovn"]),
  description: z.string().max(1024).optional(),
  vlan: z.int().min(1).max(4094).optional(),
  mtu: mtu.optional(),
  mtuPolicy: z.enum(["prefer-dhcp", "static"]).optional(),
  /** Overlay encapsulation for OVN networks; "none" for localnet/provider (VLAN or flat) networks. */
  encapsulation: z.enum(["geneve", "vxlan", "none"]).optional(),
  underlay: z.strictObject({ mtu: mtu.optional(), family: z.enum(["ipv4", "ipv6"]).optional() }).optional(),
  ipv4: z
    .strictObject({
      subnet: cidr,
      gateway: ipv4.optional(),
      dhcp: z.boolean().default(true),
      leaseTime: z.int().min(60).max(31536000).default(3600),
      dynamicRange: RangeSchema.optional(),
      /** Where addresses for vNICs that name none are allocated from; default: the whole subnet. */
      allocationRange: RangeSchema.optional(),
    })
    .optional(),
  ipv6: z
    .strictObject({
      prefix: cidr,
      gateway: ipv6.optional(),
      mode: z.enum(["slaac", "dhcpv6-stateless", "dhcpv6-stateful", "static"]).default("slaac"),
      ra: z.boolean().optional(),
      allocationRange: RangeSchema.optional(),
    })
    .optional(),
  dns: DnsSchema.default({ servers: [], search: [] }),
  routes: z.array(RouteSchema).max(64).default([]),
});

export const MacPoolSchema = z.strictObject({ name, start: mac, end: mac });

export const HostLinkSchema = z.strictObject({
  name: ifname,
  type: z.enum(["nic", "bond", "vlan", "bridge"]),
  mtu: mtu.default(1500),
  members: z.array(ifname).optional(),
  parent: ifname.optional(),
  vlan: z.int().min(1).max(4094).optional(),
});

export const HostSchema = z.strictObject({
  name,
  links: z.array(HostLinkSchema).max(1024).default([]),
  networks: z.record(z.string(), ifname).default({}),
  tunnelLink: ifname.optional(),
});

const Ipv4AssignSchema = z.union([
  z.literal("none"),
  z.strictObject({ mode: z.enum(["static", "dhcp"]).optional(), address: ipv4.optional() }),
]);
const Ipv6AssignSchema = z.union([
  z.literal("none"),
  z.strictObject({ mode: z.enum(["static", "auto"]).optional(), address: ipv6.optional() }),
]);

const addressing = {
  ipv4: Ipv4AssignSchema.optional(),
  ipv6: Ipv6AssignSchema.optional(),
};

export const NicSchema = z.strictObject({
  name: ifname.optional(),
  network: name,
  mac: mac.optional(),
  macPool: name.optional(),
  ...addressing,
});

export const BondSchema = z.strictObject({
  name: ifname,
  interfaces: z.array(ifname).min(1).max(8),
  mode: z
    .enum(["active-backup", "balance-rr", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"])
    .default("active-backup"),
  miimon: z.int().min(0).max(60000).default(100),
  ...addressing,
});

export const VlanSchema = z.strictObject({
  name: ifname.optional(),
  link: ifname,
  /** The logical network the VLAN joins; its `vlan` id is used unless `id` is given. */
  network: name,
  id: z.int().min(1).max(4094).optional(),
  ...addressing,
});

export const UserDataSchema = z.union([
  z.strictObject({ raw: z.string().max(1 << 20) }),
  z.strictObject({ template: name, vars: z.record(z.string(), z.unknown()).default({}) }),
]);

export const VmSchema = z.strictObject({
  id: uuid,
  name,
  hostname: hostname.optional(),
  host: name.optional(),
  sshKeys: z.array(z.string().min(1).max(16384)).max(64).default([]),
  userData: UserDataSchema.optional(),
  nics: z.array(NicSchema).min(1).max(64),
  bonds: z.array(BondSchema).max(16).default([]),
  vlans: z.array(VlanSchema).max(64).default([]),
  defaultRoute: z.strictObject({ ipv4: ifname.optional(), ipv6: ifname.optional() }).optional(),
  qgaSocket: z.string().max(4096).optional(),
});

export const InventorySchema = z.strictObject({
  version: z.literal(1, { error: "must be 1 (the only inventory format version so far)" }),
  site: z
    .strictObject({
      name: name.optional(),
      domain: hostname.optional(),
      /** MTU of the physical underlay that carries overlay tunnels, where no host says otherwise. */
      underlayMtu: mtu.default(1500),
    })
    .default({ underlayMtu: 1500 }),
  macPools: z.array(MacPoolSchema).max(64).default([]),
  networks: z.array(NetworkSchema).min(1).max(4096),
  hosts: z.array(HostSchema).max(4096).default([]),
  vms: z.array(VmSchema).max(100000).default([]),
});

export type Inventory = z.infer<typeof InventorySchema>;
export type InventoryNetwork = z.infer<typeof NetworkSchema>;
export type InventoryVm = z.infer<typeof VmSchema>;
export type InventoryNic = z.infer<typeof NicSchema>;
export type InventoryHost = z.infer<typeof HostSchema>;
export type Ipv4Assign = z.infer<typeof Ipv4AssignSchema>;
export type Ipv6Assign = z.infer<typeof Ipv6AssignSchema>;
