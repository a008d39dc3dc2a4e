// Inventory -> ResolvedSite: cross-reference checks, MAC and address allocation, MTU decisions,
// default-route choice and user-data expansion, in one pass over a schema-valid inventory.
// Pure: the templates come in as text, the revision hash as a function, and every problem found
// is collected (never thrown), so an operator sees all of them at once.
import type { Inventory, InventoryNetwork, InventoryVm, Ipv4Assign, Ipv6Assign } from "../inventory/schema.ts";
import type { InventoryIssue, IssueCode, IssuePath } from "../inventory/issues.ts";
import {
  canonicalIp, cidrContains, cidrLast, cidrText, eui64Address, fnv1a, formatIp, formatMac, isUnicastMac,
  netmaskOf, parseCidr, parseIp, parseMac, type Cidr, type Family,
} from "./addr.ts";
import { decideNetworkMtu, defaultEncapsulation, guestVlanMtu, hostPathMtu, type HostPath } from "./mtu.ts";
import { expandTemplate } from "./templates.ts";
import type {
  Explained, GuestInterface, GuestIpv4, GuestIpv6, HostLink, ResolvedHost, ResolvedNetwork, ResolvedSite, ResolvedVm, Route,
} from "./types.ts";

export interface ResolveOptions {
  /** Template name -> template text, from cloud-init-templates/ (loaded at the edge). */
  templates: Readonly<Record<string, string>>;
  /** Hash of the inventory source; becomes ResolvedSite.revision. */
  revision: string;
}

export interface ResolveResult {
  /** Present only when there are no issues: a site with errors is never served. */
  site?: ResolvedSite;
  issues: InventoryIssue[];
}

/** Internal per-network facts the resolver needs beyond the public model. */
interface NetworkFacts {
  resolved: ResolvedNetwork;
  index: number;
  v4?: Cidr;
  v6?: Cidr;
  v4Gateway?: bigint;
  /** Gateways and next hops of static routes: routers, never handed to a vNIC by allocation. */
  routeGateways: Set<bigint>;
  dynamic?: { start: bigint; end: bigint };
  alloc4?: { start: bigint; end: bigint };
  alloc6?: { start: bigint; end: bigint };
}

/** An addressable interface awaiting its addresses (non-member NICs, bonds, VLANs). */
interface PendingL3 {
  vmIndex: number;
  vmId: string;
  iface: GuestInterface;
  net: NetworkFacts;
  ipv4?: Ipv4Assign;
  ipv6?: Ipv6Assign;
  path: IssuePath;
}

export function resolveInventory(inv: Inventory, opts: ResolveOptions): ResolveResult {
  const issues: InventoryIssue[] = [];
  const report = (code: IssueCode, path: IssuePath, message: string) => issues.push({ code, path, message });

  const hosts = resolveHosts(inv, report);
  const networks = resolveNetworks(inv, hosts, report);
  const vms = resolveVms(inv, networks, hosts, opts, report);

  if (issues.length) return { issues };
  return {
    issues,
    site: {
      revision: opts.revision,
      ...(inv.site.domain ? { domain: inv.site.domain } : {}),
      networks: [...networks.values()].map((n) => n.resolved),
      hosts,
      vms,
    },
  };
}

type Report = (code: IssueCode, path: IssuePath, message: string) => void;

function checkUnique<T>(items: readonly T[], key: (t: T) => string, what: string, basePath: string, field: string, report: Report) {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) report("DUPLICATE_NAME", [basePath, i, field], `${what} ${JSON.stringify(k)} is already defined at ${basePath}[${first}]`);
    else seen.set(k, i);
  });
}

// ---------------------------------------------------------------------------------------- hosts

function resolveHosts(inv: Inventory, report: Report): ResolvedHost[] {
  checkUnique(inv.hosts, (h) => h.name, "host", "hosts", "name", report);
  const networkNames = new Set(inv.networks.map((n) => n.name));
  return inv.hosts.map((h, hi) => {
    const linkNames = new Set<string>();
    h.links.forEach((l, li) => {
      const at = ["hosts", hi, "links", li] as const;
      if (linkNames.has(l.name)) report("DUPLICATE_NAME", [...at, "name"], `link ${l.name} is defined twice on host ${h.name}`);
      linkNames.add(l.name);
      if (l.type === "vlan" && (l.parent === undefined || l.vlan === undefined)) {
        report("BAD_TOPOLOGY", at, `VLAN link ${l.name} needs both "parent" and "vlan" (the VLAN id)`);
      }
      if ((l.type === "bond" || l.type === "bridge") && l.parent !== undefined) {
        report("BAD_TOPOLOGY", [...at, "parent"], `${l.type} link ${l.name} takes "members", not "parent"`);
      }
      if (l.type === "nic" && (l.members?.length || l.parent)) {
        report("BAD_TOPOLOGY", at, `nic ${l.name} is a physical port: it has no members or parent`);
      }
    });
    h.links.forEach((l, li) => {
      const refs = [...(l.members ?? []).map((m, mi) => [m, ["members", mi]] as const), ...(l.parent ? [[l.parent, ["parent"]] as const] : [])];
      for (const [ref, sub] of refs) {
        if (!linkNames.has(ref)) report("UNKNOWN_REFERENCE", ["hosts", hi, "links", li, ...sub], `host ${h.name} has no link named ${ref}`);
      }
      // The kernel refuses a VLAN larger than its parent and a bond larger than its ports.
      const lower = l.type === "vlan" && l.parent ? [l.parent] : l.type === "bond" ? (l.members ?? []) : [];
      for (const ref of lower) {
        const child = h.links.find((c) => c.name === ref);
        if (child && l.mtu > child.mtu) {
          report("MTU_IMPOSSIBLE", ["hosts", hi, "links", li, "mtu"], `${l.type} ${l.name} has MTU ${l.mtu}, above ${child.name} under it (MTU ${child.mtu})`);
        }
      }
    });
    for (const [net, link] of Object.entries(h.networks)) {
      if (!networkNames.has(net)) report("UNKNOWN_REFERENCE", ["hosts", hi, "networks", net], `there is no logical network named ${net}`);
      if (!linkNames.has(link)) report("UNKNOWN_REFERENCE", ["hosts", hi, "networks", net], `host ${h.name} has no link named ${link}`);
    }
    if (h.tunnelLink !== undefined && !linkNames.has(h.tunnelLink)) {
      report("UNKNOWN_REFERENCE", ["hosts", hi, "tunnelLink"], `host ${h.name} has no link named ${h.tunnelLink}`);
    }
    const links: HostLink[] = h.links.map((l) => ({
      name: l.name, type: l.type, mtu: l.mtu,
      ...(l.members ? { members: l.members } : {}),
      ...(l.parent ? { parent: l.parent } : {}),
      ...(l.vlan !== undefined ? { vlan: l.vlan } : {}),
    }));
    return { name: h.name, links, networks: { ...h.networks }, ...(h.tunnelLink ? { tunnelLink: h.tunnelLink } : {}) };
  });
}

// ------------------------------------------------------------------------------------- networks

function resolveNetworks(inv: Inventory, hosts: ResolvedHost[], report: Report): Map<string, NetworkFacts> {
  checkUnique(inv.networks, (n) => n.name, "network", "networks", "name", report);
  const out = new Map<string, NetworkFacts>();
  inv.networks.forEach((n, ni) => {
    if (out.has(n.name)) return;
    const at = (...rest: (string | number)[]): IssuePath => ["networks", ni, ...rest];
    const facts = resolveNetworkAddressing(n, at, report);

    const isOvn = n.type === "ovn" || n.type === "neutron-ovn";
    if (!isOvn && n.encapsulation !== undefined && n.encapsulation !== "none") {
      report("INVALID_VALUE", at("encapsulation"), `a ${n.type} network is not tunnelled; encapsulation ${n.encapsulation} applies to OVN networks only`);
    }
    if (!isOvn && n.underlay !== undefined) {
      report("INVALID_VALUE", at("underlay"), `underlay applies to OVN overlay networks only, not to a ${n.type} network`);
    }
    const encapsulation = n.encapsulation ?? defaultEncapsulation(n.type, n.vlan);
    const hostPaths: HostPath[] = [];
    for (const h of hosts) {
      const link = h.networks[n.name];
      if (link === undefined) continue;
      const p = hostPathMtu(h.name, h.links, link);
      if (p) hostPaths.push(p);
    }
    const underlay = resolveUnderlay(inv, n, hosts);
    const { mtu, problems } = decideNetworkMtu({
      name: n.name, type: n.type, encapsulation, explicitMtu: n.mtu, hasIpv6: n.ipv6 !== undefined, underlay, hostPaths,
    });
    for (const p of problems) {
      if (p.field === "host" && p.host !== undefined) {
        const hi = inv.hosts.findIndex((h) => h.name === p.host);
        report("MTU_IMPOSSIBLE", n.mtu !== undefined ? at("mtu") : ["hosts", hi, "networks", n.name], p.message);
      } else {
        report("MTU_IMPOSSIBLE", n.mtu !== undefined ? at("mtu") : at("type"), p.message);
      }
    }

    const resolved: ResolvedNetwork = {
      name: n.name,
      type: n.type,
      ...(n.vlan !== undefined ? { vlan: n.vlan } : {}),
      encapsulation,
      mtu,
      mtuPolicy: n.mtuPolicy ?? "prefer-dhcp",
      ...(facts.ipv4 ? { ipv4: facts.ipv4 } : {}),
      ...(facts.ipv6 ? { ipv6: facts.ipv6 } : {}),
      dns: { servers: n.dns.servers.map((s) => canonicalIp(s)!), search: [...n.dns.search] },
      routes: facts.routes,
    };
    out.set(n.name, { ...facts.internal, resolved, index: ni });
  });
  return out;
}

function resolveUnderlay(inv: Inventory, n: InventoryNetwork, hosts: ResolvedHost[]) {
  const family = n.underlay?.family ?? "ipv4";
  if (n.underlay?.mtu !== undefined) return { mtu: n.underlay.mtu, family, source: `underlay MTU of network ${n.name}` };
  // Hosts that describe their tunnel link bound the underlay: the smallest one wins.
  let best: { mtu: number; family: typeof family; source: string } | undefined;
  for (const h of hosts) {
    if (!h.tunnelLink) continue;
    const p = hostPathMtu(h.name, h.links, h.tunnelLink);
    if (p && (!best || p.mtu < best.mtu)) best = { mtu: p.mtu, family, source: `tunnel link ${h.tunnelLink} on host ${h.name}` };
  }
  return best ?? { mtu: inv.site.underlayMtu, family, source: "the site's underlay MTU" };
}

function resolveNetworkAddressing(n: InventoryNetwork, at: (...rest: (string | number)[]) => IssuePath, report: Report) {
  const internal: Omit<NetworkFacts, "resolved" | "index"> = { routeGateways: new Set() };
  let ipv4: ResolvedNetwork["ipv4"];
  let ipv6: ResolvedNetwork["ipv6"];
  const inRange = (c: Cidr, fam: Family, text: string, path: IssuePath, what: string): bigint | undefined => {
    const ip = parseIp(text)!;
    if (ip.family !== fam) {
      report("FAMILY_MISMATCH", path, `${what} ${text} is IPv${ip.family}, but the subnet ${cidrText(c)} is IPv${fam}`);
      return undefined;
    }
    if (!cidrContains(c, ip)) {
      report("ADDRESS_OUTSIDE_SUBNET", path, `${what} ${text} is outside the subnet ${cidrText(c)}`);
      return undefined;
    }
    return ip.value;
  };
  const range = (c: Cidr, fam: Family, r: { start: string; end: string } | undefined, field: string, path: IssuePath) => {
    if (!r) return undefined;
    const s = inRange(c, fam, r.start, [...path, field, "start"], `${field} start`);
    const e = inRange(c, fam, r.end, [...path, field, "end"], `${field} end`);
    if (s === undefined || e === undefined) return undefined;
    if (s > e) {
      report("INVALID_VALUE", [...path, field], `${field} starts at ${r.start}, after its end ${r.end}`);
      return undefined;
    }
    return { start: s, end: e };
  };

  if (n.ipv4) {
    const c = parseCidr(n.ipv4.subnet) as Cidr;
    if (c.family !== 4) {
      report("FAMILY_MISMATCH", at("ipv4", "subnet"), `ipv4.subnet ${n.ipv4.subnet} is not an IPv4 subnet`);
    } else {
      internal.v4 = c;
      if (n.ipv4.gateway !== undefined) {
        const gw = inRange(c, 4, n.ipv4.gateway, at("ipv4", "gateway"), "gateway");
        if (gw !== undefined && c.prefixLength < 31 && (gw === c.base || gw === cidrLast(c))) {
          report("ADDRESS_RESERVED", at("ipv4", "gateway"), `gateway ${n.ipv4.gateway} is the ${gw === c.base ? "network" : "broadcast"} address of ${n.ipv4.subnet}`);
        }
        if (gw !== undefined) { internal.v4Gateway = gw; internal.routeGateways.add(gw); }
      }
      const dyn = range(c, 4, n.ipv4.dynamicRange, "dynamicRange", at("ipv4"));
      if (dyn) internal.dynamic = dyn;
      const alloc = range(c, 4, n.ipv4.allocationRange, "allocationRange", at("ipv4"));
      if (alloc) internal.alloc4 = alloc;
      if (n.ipv4.dynamicRange && !n.ipv4.dhcp) {
        report("INVALID_VALUE", at("ipv4", "dynamicRange"), `a dynamic range needs DHCP, but ipv4.dhcp is false`);
      }
      ipv4 = {
        cidr: n.ipv4.subnet,
        prefixLength: c.prefixLength,
        netmask: netmaskOf(c.prefixLength),
        ...(n.ipv4.gateway ? { gateway: n.ipv4.gateway } : {}),
        dhcp: n.ipv4.dhcp,
        leaseTime: n.ipv4.leaseTime,
        ...(n.ipv4.dynamicRange ? { dynamicRange: { ...n.ipv4.dynamicRange } } : {}),
      };
    }
  }
  if (n.ipv6) {
    const c = parseCidr(n.ipv6.prefix) as Cidr;
    if (c.family !== 6) {
      report("FAMILY_MISMATCH", at("ipv6", "prefix"), `ipv6.prefix ${n.ipv6.prefix} is not an IPv6 prefix`);
    } else {
      internal.v6 = c;
      if (n.ipv6.mode === "slaac" && c.prefixLength !== 64) {
        report("INVALID_VALUE", at("ipv6", "prefix"), `SLAAC needs a /64 prefix (RFC 4862 with Ethernet interface ids), not /${c.prefixLength}`);
      }
      if (n.ipv6.gateway !== undefined) {
        const gw = parseIp(n.ipv6.gateway)!;
        // A router's link-local address is the usual IPv6 gateway, so fe80::/10 is accepted too.
        const linkLocal = (gw.value >> 118n) === 0x3fan;
        if (!linkLocal && inRange(c, 6, n.ipv6.gateway, at("ipv6", "gateway"), "gateway") !== undefined) internal.routeGateways.add(gw.value);
      }
      const alloc = range(c, 6, n.ipv6.allocationRange, "allocationRange", at("ipv6"));
      if (alloc) internal.alloc6 = alloc;
      ipv6 = {
        cidr: cidrText(c),
        prefixLength: c.prefixLength,
        ...(n.ipv6.gateway ? { gateway: canonicalIp(n.ipv6.gateway)! } : {}),
        mode: n.ipv6.mode,
        ra: n.ipv6.ra ?? n.ipv6.mode !== "static",
      };
    }
  }
  const routes: Route[] = [];
  n.routes.forEach((r, ri) => {
    const dest = parseCidr(r.to) as Cidr;
    const via = parseIp(r.via)!;
    if (dest.family !== via.family) {
      report("FAMILY_MISMATCH", at("routes", ri, "via"), `route to ${r.to} is IPv${dest.family} but its gateway ${r.via} is IPv${via.family}`);
      return;
    }
    const sub = via.family === 4 ? internal.v4 : internal.v6;
    if (!sub) {
      report("NO_SUBNET", at("routes", ri), `route to ${r.to} needs an IPv${via.family} subnet on network ${n.name}`);
      return;
    }
    if (!cidrContains(sub, via)) {
      report("ADDRESS_OUTSIDE_SUBNET", at("routes", ri, "via"), `route gateway ${r.via} is not reachable: it is outside the subnet ${cidrText(sub)}`);
      return;
    }
    internal.routeGateways.add(via.value);
    routes.push({ to: cidrText(dest), via: formatIp(via.family, via.value), ...(r.metric !== undefined ? { metric: r.metric } : {}) });
  });
  return { internal, ipv4, ipv6, routes };
}

// ------------------------------------------------------------------------------------------ VMs

function resolveVms(
  inv: Inventory, networks: Map<string, NetworkFacts>, hosts: ResolvedHost[], opts: ResolveOptions, report: Report,
): ResolvedVm[] {
  checkUnique(inv.vms, (v) => v.id.toLowerCase(), "VM id", "vms", "id", report);
  checkUnique(inv.vms, (v) => v.name, "VM", "vms", "name", report);
  const hostNames = new Set(hosts.map((h) => h.name));

  const macs = assignMacs(inv, report);
  const pending: PendingL3[] = [];
  const vms: ResolvedVm[] = inv.vms.map((vm, vi) => {
    if (vm.host !== undefined && !hostNames.has(vm.host)) report("UNKNOWN_REFERENCE", ["vms", vi, "host"], `there is no host named ${vm.host}`);
    const interfaces = buildInterfaces(vm, vi, macs[vi]!, networks, report, pending);
    const hostname = vm.hostname ?? vm.name;
    const fqdn = hostname.includes(".") || !inv.site.domain ? hostname : `${hostname}.${inv.site.domain}`;
    return {
      id: vm.id.toLowerCase(),
      name: vm.name,
      hostname: hostname.split(".")[0]!,
      fqdn,
      ...(vm.host ? { host: vm.host } : {}),
      sshKeys: [...vm.sshKeys],
      userData: "",
      interfaces,
      dns: { servers: [], search: [] },
      ...(vm.qgaSocket ? { qgaSocket: vm.qgaSocket } : {}),
    };
  });

  assignAddresses(pending, networks, report);
  vms.forEach((vm, vi) => {
    chooseDefaultRoutes(inv.vms[vi]!, vi, vm, networks, report);
    vm.dns = mergeDns(vm.interfaces);
    vm.userData = renderUserData(inv.vms[vi]!, vi, vm, opts, report);
  });
  return vms;
}

/** Explicit MACs first (duplicates reported), then pool allocation in a stable order. */
function assignMacs(inv: Inventory, report: Report): (string | undefined)[][] {
  const used = new Map<bigint, IssuePath>();
  const result = inv.vms.map((vm) => vm.nics.map(() => undefined as string | undefined));
  inv.vms.forEach((vm, vi) =>
    vm.nics.forEach((nic, ni) => {
      if (nic.mac === undefined) return;
      const path: IssuePath = ["vms", vi, "nics", ni, "mac"];
      const value = parseMac(nic.mac)!;
      if (!isUnicastMac(value)) {
        report("INVALID_VALUE", path, `MAC ${nic.mac} is a multicast address; a vNIC needs a unicast MAC (first octet even)`);
      }
      const other = used.get(value);
      if (other) report("DUPLICATE_MAC", path, `MAC ${formatMac(value)} is already used by ${describePath(other)}`);
      else used.set(value, path);
      result[vi]![ni] = formatMac(value);
    }),
  );
  const pools = new Map(inv.macPools.map((p, pi) => [p.name, { start: parseMac(p.start)!, end: parseMac(p.end)!, pi }]));
  inv.macPools.forEach((p, pi) => {
    if (parseMac(p.start)! > parseMac(p.end)!) report("INVALID_VALUE", ["macPools", pi], `MAC pool ${p.name} starts after its end`);
  });
  // Allocation order is by VM id then NIC index, so adding a VM elsewhere in the file does not
  // move anyone's MAC; the start point is a hash of (VM id, NIC index), probed linearly.
  const order = inv.vms.map((vm, vi) => ({ vm, vi })).sort((a, b) => (a.vm.id < b.vm.id ? -1 : a.vm.id > b.vm.id ? 1 : a.vi - b.vi));
  for (const { vm, vi } of order) {
    vm.nics.forEach((nic, ni) => {
      if (nic.mac !== undefined) {
        if (nic.macPool !== undefined) report("INVALID_VALUE", ["vms", vi, "nics", ni, "macPool"], `give either mac or macPool, not both`);
        return;
      }
      const path: IssuePath = ["vms", vi, "nics", ni];
      const poolName = nic.macPool ?? inv.macPools[0]?.name;
      const pool = poolName !== undefined ? pools.get(poolName) : undefined;
      if (!pool) {
        report(
          "UNKNOWN_REFERENCE", nic.macPool !== undefined ? [...path, "macPool"] : [...path, "mac"],
          nic.macPool !== undefined ? `there is no MAC pool named ${nic.macPool}` : `no mac given and no macPools defined to allocate one from`,
        );
        return;
      }
      if (pool.start > pool.end) return;
      const size = pool.end - pool.start + 1n;
      let offset = BigInt(fnv1a(`${vm.id.toLowerCase()}/${ni}`)) % size;
      for (let tries = 0n; tries < size; tries++) {
        const candidate = pool.start + ((offset + tries) % size);
        if (!used.has(candidate) && isUnicastMac(candidate)) {
          used.set(candidate, path);
          result[vi]![ni] = formatMac(candidate);
          return;
        }
      }
      report("POOL_EXHAUSTED", path, `MAC pool ${poolName} has no free address left`);
      offset = 0n;
    });
  }
  return result;
}

function describePath(path: IssuePath): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");
}

function buildInterfaces(
  vm: InventoryVm, vi: number, macs: (string | undefined)[], networks: Map<string, NetworkFacts>, report: Report, pending: PendingL3[],
): GuestInterface[] {
  const ifaces: GuestInterface[] = [];
  const byName = new Map<string, { iface: GuestInterface; path: IssuePath }>();
  const add = (iface: GuestInterface, path: IssuePath) => {
    if (byName.has(iface.name)) {
      report("DUPLICATE_NAME", [...path, "name"], `interface ${iface.name} is defined twice in VM ${vm.name}`);
      return false;
    }
    byName.set(iface.name, { iface, path });
    ifaces.push(iface);
    return true;
  };
  const memberOf = new Map<string, string>();
  for (const b of vm.bonds) for (const m of b.interfaces) if (!memberOf.has(m)) memberOf.set(m, b.name);

  vm.nics.forEach((nic, ni) => {
    const path: IssuePath = ["vms", vi, "nics", ni];
    const net = networks.get(nic.network);
    if (!net) report("UNKNOWN_REFERENCE", [...path, "network"], `there is no network named ${nic.network}`);
    const name = nic.name ?? `eth${ni}`;
    const master = memberOf.get(name);
    const iface: GuestInterface = {
      name, kind: "physical", mac: macs[ni] ?? "00:00:00:00:00:00",
      mtu: net?.resolved.mtu ?? { value: 0, because: [] }, mtuInCloudInit: true, routes: [], dns: { servers: [], search: [] },
      ...(master ? { master } : { network: nic.network }),
    };
    if (!add(iface, path) || !net) return;
    if (master) {
      if ((nic.ipv4 !== undefined && nic.ipv4 !== "none") || (nic.ipv6 !== undefined && nic.ipv6 !== "none")) {
        report("BAD_TOPOLOGY", path, `NIC ${name} is a member of bond ${master}; put its addressing on the bond`);
      }
      return;
    }
    pending.push({ vmIndex: vi, vmId: vm.id.toLowerCase(), iface, net, ipv4: nic.ipv4, ipv6: nic.ipv6, path });
  });

  vm.bonds.forEach((b, bi) => {
    const path: IssuePath = ["vms", vi, "bonds", bi];
    const members = b.interfaces.map((m, mi) => {
      const found = byName.get(m);
      if (!found || found.iface.kind !== "physical") {
        report("UNKNOWN_REFERENCE", [...path, "interfaces", mi], `VM ${vm.name} has no NIC named ${m}`);
        return undefined;
      }
      if (memberOf.get(m) !== b.name) report("BAD_TOPOLOGY", [...path, "interfaces", mi], `NIC ${m} is already a member of bond ${memberOf.get(m)}`);
      return { nic: found.iface, index: vm.nics.findIndex((n, ni) => (n.name ?? `eth${ni}`) === m) };
    }).filter((x): x is { nic: GuestInterface; index: number } => x !== undefined);
    const memberNetworks = new Set(members.map((m) => vm.nics[m.index]!.network));
    if (memberNetworks.size > 1) {
      report("BAD_TOPOLOGY", [...path, "interfaces"], `bond ${b.name} joins NICs on different networks (${[...memberNetworks].join(", ")}); its members must share one network`);
      return;
    }
    const netName = [...memberNetworks][0];
    const net = netName !== undefined ? networks.get(netName) : undefined;
    if (!net || members.length === 0) return;
    const mtu = net.resolved.mtu;
    for (const m of members) m.nic.mtu = { value: mtu.value, because: [...mtu.because, `carries the MTU of bond ${b.name}`] };
    const iface: GuestInterface = {
      name: b.name, kind: "bond", mac: members[0]!.nic.mac, network: net.resolved.name,
      mtu: { value: mtu.value, because: [...mtu.because, `the bond takes its members' network MTU`] },
      mtuInCloudInit: true, members: members.map((m) => m.nic.name), bondMode: b.mode, bondMiimon: b.miimon,
      routes: [], dns: { servers: [], search: [] },
    };
    if (add(iface, path)) pending.push({ vmIndex: vi, vmId: vm.id.toLowerCase(), iface, net, ipv4: b.ipv4, ipv6: b.ipv6, path });
  });

  vm.vlans.forEach((v, vli) => {
    const path: IssuePath = ["vms", vi, "vlans", vli];
    const parent = byName.get(v.link);
    const net = networks.get(v.network);
    if (!parent) report("UNKNOWN_REFERENCE", [...path, "link"], `VM ${vm.name} has no interface named ${v.link}`);
    if (!net) report("UNKNOWN_REFERENCE", [...path, "network"], `there is no network named ${v.network}`);
    if (!parent || !net) return;
    if (parent.iface.master) {
      report("BAD_TOPOLOGY", [...path, "link"], `${v.link} is a bond member; put the VLAN on bond ${parent.iface.master}`);
      return;
    }
    const id = v.id ?? net.resolved.vlan;
    if (id === undefined) {
      report("BAD_TOPOLOGY", [...path, "id"], `VLAN on ${v.link} needs an id: give "id" or a "vlan" on network ${v.network}`);
      return;
    }
    const { mtu, exceedsParent } = guestVlanMtu(net.resolved.mtu, parent.iface.name, parent.iface.mtu.value);
    if (exceedsParent) {
      report("MTU_IMPOSSIBLE", [...path, "network"], `VLAN network ${v.network} has MTU ${mtu.value}, above its parent ${v.link} (MTU ${parent.iface.mtu.value}); a VLAN never exceeds its parent`);
    }
    const iface: GuestInterface = {
      name: v.name ?? `${v.link}.${id}`, kind: "vlan", mac: parent.iface.mac, network: net.resolved.name, mtu, mtuInCloudInit: true,
      vlanId: id, vlanLink: parent.iface.name, routes: [], dns: { servers: [], search: [] },
    };
    if (add(iface, path)) pending.push({ vmIndex: vi, vmId: vm.id.toLowerCase(), iface, net, ipv4: v.ipv4, ipv6: v.ipv6, path });
  });
  return ifaces;
}

// ------------------------------------------------------------------------------------ addresses

function assignAddresses(pending: PendingL3[], networks: Map<string, NetworkFacts>, report: Report) {
  // Pass 1: addresses written in the inventory claim their place, so allocation never takes them.
  const used = new Map<string, Map<bigint, IssuePath>>(); // network -> address -> owner
  const claim = (net: string, value: bigint, path: IssuePath, text: string): boolean => {
    let m = used.get(net);
    if (!m) used.set(net, (m = new Map()));
    const other = m.get(value);
    if (other) {
      report("DUPLICATE_IP", path, `address ${text} on network ${net} is already used by ${describePath(other)}`);
      return false;
    }
    m.set(value, path);
    return true;
  };
  const plans = pending.map((p) => planAddresses(p, report));
  plans.forEach((plan, i) => {
    const p = pending[i]!;
    if (plan.v4?.explicit !== undefined) {
      const path = [...p.path, "ipv4", "address"];
      if (checkV4Explicit(p.net, plan.v4.explicit, path, report)) claim(p.net.resolved.name, plan.v4.explicit, path, formatIp(4, plan.v4.explicit));
    }
    if (plan.v6?.explicit !== undefined) {
      const path = [...p.path, "ipv6", "address"];
      if (!cidrContains(p.net.v6!, { family: 6, value: plan.v6.explicit })) {
        report("ADDRESS_OUTSIDE_SUBNET", path, `address ${formatIp(6, plan.v6.explicit)} is outside the prefix ${p.net.resolved.ipv6!.cidr} of network ${p.net.resolved.name}`);
      } else claim(p.net.resolved.name, plan.v6.explicit, path, formatIp(6, plan.v6.explicit));
    }
    if (plan.v6?.method === "slaac" || plan.v6?.method === "dhcpv6-stateless") {
      const value = eui64Address(p.net.v6!, parseMac(p.iface.mac)!);
      claim(p.net.resolved.name, value, [...p.path, "ipv6"], formatIp(6, value));
    }
  });
  // Pass 2: allocation, in a stable order (VM id, then interface path) with hashed start points.
  const order = pending.map((p, i) => i).sort((a, b) => {
    const pa = pending[a]!, pb = pending[b]!;
    return pa.vmId < pb.vmId ? -1 : pa.vmId > pb.vmId ? 1 : a - b;
  });
  for (const i of order) {
    const p = pending[i]!, plan = plans[i]!;
    const netName = p.net.resolved.name;
    if (plan.v4) {
      let value = plan.v4.explicit;
      if (value === undefined) {
        value = allocate(p, 4, used.get(netName), report);
        if (value !== undefined) claim(netName, value, [...p.path, "ipv4"], formatIp(4, value));
      }
      if (value !== undefined) {
        const sub = p.net.resolved.ipv4!;
        p.iface.ipv4 = {
          method: plan.v4.method, address: formatIp(4, value), prefixLength: sub.prefixLength, netmask: sub.netmask,
          origin: plan.v4.explicit !== undefined ? "inventory" : "allocated",
        } satisfies GuestIpv4;
      }
    }
    if (plan.v6) {
      const sub = p.net.resolved.ipv6!;
      let value = plan.v6.explicit;
      let origin: GuestIpv6["origin"] = "inventory";
      if (plan.v6.method === "slaac" || plan.v6.method === "dhcpv6-stateless") {
        value = eui64Address(p.net.v6!, parseMac(p.iface.mac)!);
        origin = "eui64";
      } else if (value === undefined) {
        value = allocate(p, 6, used.get(netName), report);
        if (value !== undefined) claim(netName, value, [...p.path, "ipv6"], formatIp(6, value));
        origin = "allocated";
      }
      p.iface.ipv6 = {
        method: plan.v6.method, prefixLength: sub.prefixLength, origin,
        ...(value !== undefined ? { address: formatIp(6, value) } : {}),
      } satisfies GuestIpv6;
    }
    p.iface.dns = { servers: [...p.net.resolved.dns.servers], search: [...p.net.resolved.dns.search] };
    // A route through this interface's own address is the router itself; it needs no such route.
    p.iface.routes = p.net.resolved.routes.filter((r) =>
      r.to.includes(":") ? p.iface.ipv6 && r.via !== p.iface.ipv6.address : p.iface.ipv4 && r.via !== p.iface.ipv4.address);
    p.iface.mtuInCloudInit = mtuPinned(p.iface, p.net.resolved);
  }
}

/**
 * Whether cloud-init data carries this interface's MTU. Under "prefer-dhcp", a NIC whose every
 * address family is delivered dynamically by a service that also delivers the MTU (DHCPv4 option
 * 26, the RA MTU option) leaves it to that service; anything static pins it.
 */
function mtuPinned(iface: GuestInterface, net: ResolvedNetwork): boolean {
  if (net.mtuPolicy === "static" || iface.kind !== "physical") return true;
  const v4Dynamic = !iface.ipv4 || (iface.ipv4.method === "dhcp" && net.ipv4?.dhcp === true);
  const v6Dynamic = !iface.ipv6 || (iface.ipv6.method !== "static" && net.ipv6?.ra === true);
  return !(iface.ipv4 || iface.ipv6) || !(v4Dynamic && v6Dynamic);
}

interface AddressPlan {
  v4?: { method: GuestIpv4["method"]; explicit?: bigint };
  v6?: { method: GuestIpv6["method"]; explicit?: bigint };
}

function planAddresses(p: PendingL3, report: Report): AddressPlan {
  const plan: AddressPlan = {};
  const net = p.net.resolved;
  const v4 = p.ipv4 ?? (net.ipv4 ? {} : "none");
  if (v4 !== "none") {
    if (!net.ipv4) {
      report("NO_SUBNET", [...p.path, "ipv4"], `network ${net.name} has no IPv4 subnet to address ${p.iface.name} from`);
    } else {
      const method = v4.mode ?? (net.ipv4.dhcp ? "dhcp" : "static");
      if (method === "dhcp" && !net.ipv4.dhcp) {
        report("INVALID_VALUE", [...p.path, "ipv4", "mode"], `network ${net.name} does not serve DHCPv4 (ipv4.dhcp is false)`);
      }
      plan.v4 = { method, ...(v4.address !== undefined ? { explicit: parseIp(v4.address)!.value } : {}) };
    }
  }
  const v6 = p.ipv6 ?? (net.ipv6 ? {} : "none");
  if (v6 !== "none") {
    if (!net.ipv6) {
      report("NO_SUBNET", [...p.path, "ipv6"], `network ${net.name} has no IPv6 prefix to address ${p.iface.name} from`);
    } else {
      const mode = v6.mode ?? (net.ipv6.mode === "static" ? "static" : "auto");
      const method: GuestIpv6["method"] = mode === "static" ? "static" : net.ipv6.mode === "static" ? "static" : net.ipv6.mode;
      if (mode === "auto" && net.ipv6.mode === "static") {
        report("INVALID_VALUE", [...p.path, "ipv6", "mode"], `network ${net.name} has no automatic IPv6 (its ipv6.mode is static)`);
      }
      if (v6.address !== undefined && (method === "slaac" || method === "dhcpv6-stateless")) {
        report("INVALID_VALUE", [...p.path, "ipv6", "address"], `with ${method} the guest derives its address from the MAC; use mode: static to fix an address`);
      }
      plan.v6 = { method, ...(v6.address !== undefined ? { explicit: parseIp(v6.address)!.value } : {}) };
    }
  }
  return plan;
}

function checkV4Explicit(net: NetworkFacts, value: bigint, path: IssuePath, report: Report): boolean {
  const c = net.v4!;
  const text = formatIp(4, value);
  if (!cidrContains(c, { family: 4, value })) {
    report("ADDRESS_OUTSIDE_SUBNET", path, `address ${text} is outside the subnet ${cidrText(c)} of network ${net.resolved.name}`);
    return false;
  }
  if (c.prefixLength < 31 && (value === c.base || value === cidrLast(c))) {
    report("ADDRESS_RESERVED", path, `address ${text} is the ${value === c.base ? "network" : "broadcast"} address of ${cidrText(c)}`);
    return false;
  }
  if (value === net.v4Gateway) {
    report("ADDRESS_RESERVED", path, `address ${text} is the gateway of network ${net.resolved.name}`);
    return false;
  }
  if (net.dynamic && value >= net.dynamic.start && value <= net.dynamic.end) {
    report("ADDRESS_RESERVED", path, `address ${text} is inside the dynamic range of network ${net.resolved.name}, where DHCP hands it to unknown clients`);
    return false;
  }
  return true;
}

function allocate(p: PendingL3, family: Family, used: Map<bigint, IssuePath> | undefined, report: Report): bigint | undefined {
  const net = p.net;
  const c = family === 4 ? net.v4! : net.v6!;
  const configured = family === 4 ? net.alloc4 : net.alloc6;
  // Default range: the whole subnet minus its network and broadcast addresses (IPv4); for IPv6
  // the first 64K addresses after the subnet-router anycast address, which keeps them readable.
  const start = configured?.start ?? c.base + 1n;
  const end = configured?.end ?? (family === 4 ? (c.prefixLength >= 31 ? cidrLast(c) : cidrLast(c) - 1n) : minBig(cidrLast(c), c.base + 0xffffn));
  const size = end - start + 1n;
  const offset = BigInt(fnv1a(`${p.vmId}/${describePath(p.path)}/${family}`)) % size;
  for (let i = 0n; i < size; i++) {
    const candidate = start + ((offset + i) % size);
    if (used?.has(candidate) || net.routeGateways.has(candidate)) continue;
    if (family === 4 && (candidate === net.v4Gateway || (net.dynamic && candidate >= net.dynamic.start && candidate <= net.dynamic.end))) continue;
    return candidate;
  }
  report("POOL_EXHAUSTED", [...p.path, family === 4 ? "ipv4" : "ipv6"], `no free IPv${family} address is left on network ${net.resolved.name}`);
  return undefined;
}

const minBig = (a: bigint, b: bigint) => (a < b ? a : b);

// ------------------------------------------------------------------------------ routes and dns

function chooseDefaultRoutes(vm: InventoryVm, vi: number, resolved: ResolvedVm, networks: Map<string, NetworkFacts>, report: Report) {
  const l3 = resolved.interfaces.filter((i) => i.network && !i.master);
  const pick = (family: "ipv4" | "ipv6"): GuestInterface | undefined => {
    const wanted = vm.defaultRoute?.[family];
    const hasGateway = (i: GuestInterface) => i[family] !== undefined && networks.get(i.network!)?.resolved[family]?.gateway !== undefined;
    if (wanted !== undefined) {
      const iface = l3.find((i) => i.name === wanted);
      if (!iface) report("UNKNOWN_REFERENCE", ["vms", vi, "defaultRoute", family], `VM ${vm.name} has no addressed interface named ${wanted}`);
      else if (!hasGateway(iface)) report("INVALID_VALUE", ["vms", vi, "defaultRoute", family], `${wanted} has no ${family} gateway to route through`);
      else return iface;
      return undefined;
    }
    return l3.find(hasGateway);
  };
  const v4 = pick("ipv4");
  if (v4?.ipv4) v4.ipv4.gateway = networks.get(v4.network!)!.resolved.ipv4!.gateway!;
  const v6 = pick("ipv6");
  if (v6?.ipv6) v6.ipv6.gateway = networks.get(v6.network!)!.resolved.ipv6!.gateway!;
}

function mergeDns(interfaces: GuestInterface[]) {
  const servers: string[] = [];
  const search: string[] = [];
  for (const i of interfaces) {
    for (const s of i.dns.servers) if (!servers.includes(s)) servers.push(s);
    for (const s of i.dns.search) if (!search.includes(s)) search.push(s);
  }
  return { servers, search };
}

// ------------------------------------------------------------------------------------ user-data

function renderUserData(vm: InventoryVm, vi: number, resolved: ResolvedVm, opts: ResolveOptions, report: Report): string {
  const ud = vm.userData;
  if (!ud) return "#cloud-config\n{}\n";
  if ("raw" in ud) return ud.raw;
  const template = opts.templates[ud.template];
  if (template === undefined) {
    const known = Object.keys(opts.templates).sort().join(", ") || "none";
    report("UNKNOWN_REFERENCE", ["vms", vi, "userData", "template"], `there is no user-data template named ${ud.template} (known: ${known})`);
    return "";
  }
  const vars = {
    hostname: resolved.hostname, fqdn: resolved.fqdn, vm_id: resolved.id, vm_name: resolved.name, ssh_keys: resolved.sshKeys,
    ...ud.vars,
  };
  const result = expandTemplate(template, vars);
  for (const m of result.missing) {
    report("TEMPLATE", ["vms", vi, "userData", "vars"], `template ${ud.template} needs variable ${m}, which is not given`);
  }
  for (const b of result.badDefaults) {
    report("TEMPLATE", ["vms", vi, "userData", "template"], `template ${ud.template} has a default for ${b} that is not valid JSON`);
  }
  return result.text ?? "";
}

export type { Explained };
