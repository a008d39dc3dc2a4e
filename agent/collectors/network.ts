// Network interfaces as qemu-ga reports them, plus the link facts only sysfs knows (our extension).
import { networkInterfaces } from "node:os";
import { basename } from "node:path";
import type { FsRoot } from "./fsroot.ts";

export interface IpAddress {
  "ip-address": string;
  "ip-address-type": "ipv4" | "ipv6";
  prefix: number;
}

export type OsAddressSource = () => Record<string, { family: string | number; address: string; cidr: string | null; netmask: string; mac?: string }[] | undefined>;

const ZERO_MAC = "00:00:00:00:00:00";

// ifindex per link name, re-read whenever the set of links changes. (A link deleted and re-created under the
// same name between two calls keeps its old place until the set changes: order only, never content.)
const ifindexCache = new WeakMap<FsRoot, { key: string; order: string[] }>();

/** Link names in ifindex order: the order getifaddrs() (and so qemu-ga) lists them. */
export function linkNames(fs: FsRoot, known?: readonly string[]): string[] {
  const names = known ? [...known].sort() : fs.list("/sys/class/net");
  const key = names.join("\0");
  const cached = ifindexCache.get(fs);
  if (cached && cached.key === key) return [...cached.order];
  const idx = (n: string): number => Number(fs.readTrim(`/sys/class/net/${n}/ifindex`) ?? Number.MAX_SAFE_INTEGER);
  const order = names.map((n) => ({ n, i: idx(n) })).sort((a, b) => a.i - b.i || (a.n < b.n ? -1 : 1)).map((x) => x.n);
  ifindexCache.set(fs, { key, order });
  return [...order];
}

/** The MAC as qemu-ga prints it: six lowercase octets; links without one read as all zeros. */
export function hardwareAddress(fs: FsRoot, name: string): string {
  const raw = (fs.readTrim(`/sys/class/net/${name}/address`) ?? "").toLowerCase();
  const octets = raw.split(":");
  if (octets.length >= 6 && octets.every((o) => /^[0-9a-f]{2}$/.test(o))) return octets.slice(0, 6).join(":");
  return ZERO_MAC;
}

function prefixFromNetmask(mask: string): number {
  if (mask.includes(":")) {
    return mask.split(":").reduce((acc, part) => acc + (part ? countBits(parseInt(part, 16)) : 0), 0);
  }
  return mask.split(".").reduce((acc, part) => acc + countBits(Number(part)), 0);
}

function countBits(n: number): number {
  let c = 0;
  for (let x = n; x; x >>= 1) c += x & 1;
  return c;
}

/** IPv6 addresses of every link from /proc/net/if_inet6 (covers links that are down, unlike os.networkInterfaces). */
export function procInet6(fs: FsRoot): Map<string, IpAddress[]> {
  const out = new Map<string, IpAddress[]>();
  for (const line of (fs.read("/proc/net/if_inet6") ?? "").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[0]!.length !== 32) continue;
    const addr = procHexToIpv6(f[0]!);
    const list = out.get(f[5]!) ?? [];
    list.push({ "ip-address": addr, "ip-address-type": "ipv6", prefix: parseInt(f[2]!, 16) });
    out.set(f[5]!, list);
  }
  return out;
}

/** An address as /proc prints it (32 hex digits, no separators) in RFC 5952 form. */
export function procHexToIpv6(hex: string): string {
  const groups: string[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(parseInt(hex.slice(i, i + 4), 16).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952 text form (what inet_ntop prints), from eight hex groups. */
export function compressIpv6(groups: string[]): string {
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] === "0") {
      let j = i;
      while (j < 8 && groups[j] === "0") j++;
      if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
      i = j;
    } else i++;
  }
  // IPv4-mapped addresses print their tail as dotted quad, as inet_ntop does.
  if (bestStart === 0 && bestLen === 5 && groups[5] === "ffff") {
    const hi = parseInt(groups[6]!, 16), lo = parseInt(groups[7]!, 16);
    return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  if (bestStart < 0) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLen).join(":")}`;
}

/**
 * Addresses per link: IPv4 and IPv6 in getifaddrs order for running links, /proc for IPv6 of the others
 * (read only when some link is missing from the OS list). `macs` collects the MACs the OS list carries.
 */
export function addressesByLink(fs: FsRoot, source: OsAddressSource = networkInterfaces as unknown as OsAddressSource,
  knownLinks?: readonly string[], macs?: Map<string, string>): Map<string, IpAddress[]> {
  const out = new Map<string, IpAddress[]>();
  const os = source();
  for (const [name, addrs] of Object.entries(os)) {
    if (!addrs) continue;
    const v4: IpAddress[] = [];
    const v6: IpAddress[] = [];
    for (const a of addrs) {
      if (macs && a.mac && !macs.has(name)) macs.set(name, a.mac.toLowerCase());
      const family = a.family === 4 || a.family === "IPv4" ? "ipv4" : "ipv6";
      const prefix = a.cidr ? Number(a.cidr.split("/")[1]) : prefixFromNetmask(a.netmask);
      (family === "ipv4" ? v4 : v6).push({ "ip-address": a.address, "ip-address-type": family, prefix });
    }
    out.set(name, [...v4, ...v6]);
  }
  if (!knownLinks || knownLinks.some((n) => !out.has(n))) {
    for (const [name, v6] of procInet6(fs)) if (!out.has(name)) out.set(name, v6);
  }
  return out;
}

export interface LinkStats {
  "rx-bytes": number; "rx-packets": number; "rx-errs": number; "rx-dropped": number;
  "tx-bytes": number; "tx-packets": number; "tx-errs": number; "tx-dropped": number;
}

/** Counters from /proc/net/dev, the file qemu-ga reads. */
export function procNetDev(fs: FsRoot): Map<string, LinkStats> {
  const out = new Map<string, LinkStats>();
  for (const line of (fs.read("/proc/net/dev") ?? "").split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some(Number.isNaN)) continue;
    out.set(name, {
      "rx-bytes": f[0]!, "rx-packets": f[1]!, "rx-errs": f[2]!, "rx-dropped": f[3]!,
      "tx-bytes": f[8]!, "tx-packets": f[9]!, "tx-errs": f[10]!, "tx-dropped": f[11]!,
    });
  }
  return out;
}

export interface GuestNetworkInterface {
  name: string;
  "hardware-address"?: string;
  "ip-addresses"?: IpAddress[];
  statistics?: LinkStats;
}

export function collectInterfaces(fs: FsRoot, source?: OsAddressSource): GuestNetworkInterface[] {
  const stats = procNetDev(fs);
  // /proc/net/dev lists the same links as /sys/class/net (this network namespace's), and it has to
  // be read for the counters anyway: on the real root it saves the directory listing.
  const names = linkNames(fs, fs.root === "/" && stats.size ? [...stats.keys()] : undefined);
  const macs = new Map<string, string>();
  const addrs = addressesByLink(fs, source, names, macs);
  // Links that only the address source knows (no sysfs, e.g. in a test sandbox) still get listed.
  for (const n of addrs.keys()) if (!names.includes(n)) names.push(n);
  return names.map((name) => {
    const ips = addrs.get(name) ?? [];
    // The OS list already carries the MAC of running links; sysfs is read only for the others.
    const osMac = macs.get(name);
    const mac = osMac && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(osMac) ? osMac : hardwareAddress(fs, name);
    const entry: GuestNetworkInterface = { name, "hardware-address": mac };
    if (ips.length) {
      entry["ip-addresses"] = ips;
      // qemu-ga attaches counters only to interfaces that have an address.
      const st = stats.get(name);
      if (st) entry.statistics = st;
    }
    return entry;
  });
}

// ---------------------------------------------------------------------------------------------------
// The extension: per-link facts from sysfs.

export type LinkType = "loopback" | "virtio" | "sriov-vf" | "bond" | "vlan" | "bridge" | "veth" | "tun" | "dummy" | "ethernet" | "other";

export interface GuestNetworkLink {
  name: string;
  "hardware-address"?: string;
  operstate: string;
  carrier?: boolean;
  mtu: number;
  "ipv6-mtu"?: number;
  speed?: number;
  duplex?: string;
  driver?: string;
  type: LinkType;
  parent?: string;
  master?: string;
  "vlan-id"?: number;
  "ip-addresses"?: IpAddress[];
}

const OPERSTATES = new Set(["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"]);

function ueventValue(uevent: string | undefined, key: string): string | undefined {
  for (const line of (uevent ?? "").split("\n")) {
    const [k, ...rest] = line.split("=");
    if (k === key) return rest.join("=");
  }
  return undefined;
}

/** Classify a link from sysfs: bonding/, bridge/, physfn, the device's driver, uevent DEVTYPE, ARPHRD type. */
export function classifyLink(fs: FsRoot, name: string): { type: LinkType; driver?: string; parent?: string } {
  const base = `/sys/class/net/${name}`;
  const driverLink = fs.readlink(`${base}/device/driver`);
  const driver = driverLink ? basename(driverLink) : undefined;
  const uevent = fs.read(`${base}/uevent`);
  const devtype = ueventValue(uevent, "DEVTYPE");
  const arphrd = Number(fs.readTrim(`${base}/type`) ?? "1");
  const withDriver = <T extends object>(o: T): T & { driver?: string } => (driver ? { ...o, driver } : o);
  if (arphrd === 772) return withDriver({ type: "loopback" as const });
  if (fs.exists(`${base}/bonding`) || devtype === "bond") return withDriver({ type: "bond" as const });
  if (fs.exists(`${base}/bridge`) || devtype === "bridge") return withDriver({ type: "bridge" as const });
  if (devtype === "vlan") {
    const lower = fs.list(base).find((e) => e.startsWith("lower_"));
    return withDriver({ type: "vlan" as const, ...(lower ? { parent: lower.slice("lower_".length) } : {}) });
  }
  if (fs.exists(`${base}/device/physfn`)) return withDriver({ type: "sriov-vf" as const });
  if (driver === "virtio_net" || (fs.readlink(`${base}/device`) ?? "").includes("virtio")) {
    return { type: "virtio", driver: driver ?? "virtio_net" };
  }
  if (fs.exists(`${base}/tun_flags`) || arphrd === 65534) return withDriver({ type: "tun" as const });
  if (devtype === "dummy") return withDriver({ type: "dummy" as const });
  const peer = fs.readTrim(`${base}/iflink`) !== fs.readTrim(`${base}/ifindex`);
  if (!driver && arphrd === 1 && peer) return { type: "veth" };
  if (arphrd === 1 && driver) return { type: "ethernet", driver };
  return withDriver({ type: "other" as const });
}

/** What a link is doing: the part of the extension's answer the WebSocket reporter sends every few seconds. */
export type LinkState = Pick<GuestNetworkLink, "name" | "hardware-address" | "operstate" | "mtu" | "ipv6-mtu" | "carrier" | "ip-addresses">;

export function collectLinkStates(fs: FsRoot, source?: OsAddressSource): LinkState[] {
  const addrs = addressesByLink(fs, source);
  return linkNames(fs).map((name) => {
    const base = `/sys/class/net/${name}`;
    const operRaw = fs.readTrim(`${base}/operstate`) ?? "unknown";
    const link: LinkState = {
      name,
      "hardware-address": hardwareAddress(fs, name),
      operstate: OPERSTATES.has(operRaw) ? operRaw : "unknown",
      mtu: Number(fs.readTrim(`${base}/mtu`) ?? "0"),
    };
    // With disable_ipv6=1 the kernel keeps the last IPv6 MTU in the file; it no longer means anything.
    const ipv6Off = fs.readTrim(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`) === "1";
    const ipv6Mtu = ipv6Off ? NaN : Number(fs.readTrim(`/proc/sys/net/ipv6/conf/${name}/mtu`));
    if (Number.isInteger(ipv6Mtu) && ipv6Mtu > 0 && ipv6Mtu !== link.mtu) link["ipv6-mtu"] = ipv6Mtu;
    // carrier (and speed and duplex below) read EINVAL while a link is down: then they are simply absent.
    const carrier = fs.readTrim(`${base}/carrier`);
    if (carrier === "0" || carrier === "1") link.carrier = carrier === "1";
    const ips = addrs.get(name);
    if (ips?.length) link["ip-addresses"] = ips;
    return link;
  });
}

/** The extension command's answer: each link's state plus what kind of link it is (sysfs classification). */
export function collectLinks(fs: FsRoot, source?: OsAddressSource): GuestNetworkLink[] {
  return collectLinkStates(fs, source).map((state) => {
    const { name } = state;
    const base = `/sys/class/net/${name}`;
    const cls = classifyLink(fs, name);
    // Field order as the extension has always answered it.
    const link: GuestNetworkLink = {
      name, "hardware-address": state["hardware-address"], operstate: state.operstate, mtu: state.mtu, type: cls.type,
    };
    if (state["ipv6-mtu"] !== undefined) link["ipv6-mtu"] = state["ipv6-mtu"];
    if (state.carrier !== undefined) link.carrier = state.carrier;
    const speed = Number(fs.readTrim(`${base}/speed`));
    if (Number.isInteger(speed) && speed >= 0) link.speed = speed;
    const duplex = fs.readTrim(`${base}/duplex`);
    if (duplex === "full" || duplex === "half" || duplex === "unknown") link.duplex = duplex;
    if (cls.driver) link.driver = cls.driver;
    if (cls.parent) link.parent = cls.parent;
    const master = fs.readlink(`${base}/master`);
    if (master) link.master = basename(master);
    if (cls.type === "vlan") {
      const vid = /VID:\s*(\d+)/.exec(fs.read(`/proc/net/vlan/${name}`) ?? "")?.[1];
      if (vid !== undefined) link["vlan-id"] = Number(vid);
    }
    if (state["ip-addresses"]) link["ip-addresses"] = state["ip-addresses"];
    return link;
  });
}
