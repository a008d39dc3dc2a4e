// dnsmasq configuration for operators who run dnsmasq instead of `guestlink dhcp`: the same DHCP/RA
// plan (so the same MTU, routes and reservations) in dnsmasq's words. Pure: plan in, text out.
// Every option is sent with dhcp-option-force, as guestlink and OVN do, so clients that never ask
// for option 26 or 121 (udhcpc by default) still get them.
import type { DhcpPlan, DhcpReservation, NetworkDhcpPlan } from "../dhcp/plan.ts";
import { MIN_IPV6_MTU } from "../dhcp/plan.ts";

export interface DnsmasqRenderOptions {
  /** network name -> interface dnsmasq serves it on; networks without one are served wherever their subnet is. */
  interfaces?: Readonly<Record<string, string>>;
  /** Lease file path; dnsmasq's default when absent. */
  leaseFile?: string;
}

/** dnsmasq tag names allow letters, digits, '-', '_'; network names may also contain '.'. */
function tagOf(network: string): string {
  return `gl-${network.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

function routeSignature(r: { router?: string; classlessRoutes: { to: string; via: string }[] }): string {
  return JSON.stringify([r.router ?? "", r.classlessRoutes]);
}

function leaseText(seconds: number): string {
  return String(seconds);
}

function renderIpv4(n: NetworkDhcpPlan, tag: string, out: string[]): void {
  const p = n.ipv4;
  if (!p) return;
  const net = p.subnet.split("/")[0]!;
  if (p.dynamicRange) {
    out.push(`dhcp-range=set:${tag},${p.dynamicRange.start},${p.dynamicRange.end},${p.subnetMask},${leaseText(p.leaseTime)}`);
  } else {
    // "static": only hosts with a dhcp-host line get an address; unknown MACs get nothing.
    out.push(`dhcp-range=set:${tag},${net},static,${p.subnetMask},${leaseText(p.leaseTime)}`);
  }
  const force = (what: string) => out.push(`dhcp-option-force=tag:${tag},${what}`);
  force(`option:T1,${p.renewalTime}`);
  force(`option:T2,${p.rebindingTime}`);
  if (p.dnsServers.length) force(`option:dns-server,${p.dnsServers.join(",")}`);
  if (p.domainName) force(`option:domain-name,${p.domainName}`);
  if (p.mtu !== undefined) force(`option:mtu,${p.mtu}`);
  if (p.domainSearch.length) force(`option:domain-search,${p.domainSearch.join(",")}`);

  // Router and option 121 differ per NIC (only the NIC carrying the VM's default route gets
  // one), so reservations are grouped by their routes and each group gets its own tag.
  const groups = new Map<string, { tag: string; sample: { router?: string; classlessRoutes: { to: string; via: string }[] } }>();
  const groupOf = (r: DhcpReservation) => {
    const sig = routeSignature(r);
    let g = groups.get(sig);
    if (!g) {
      g = { tag: `${tag}-r${groups.size}`, sample: r };
      groups.set(sig, g);
    }
    return g.tag;
  };
  const hosts = p.reservations.map((r) => `dhcp-host=${r.mac},set:${groupOf(r)},${r.address},${r.hostname}`);
  const routeOptions = (t: string, s: { router?: string; classlessRoutes: { to: string; via: string }[] }) => {
    if (s.router) out.push(`dhcp-option-force=tag:${t},option:router,${s.router}`);
    else out.push(`dhcp-option=tag:${t},option:router`); // an empty option 3: no default route for this NIC
    if (s.classlessRoutes.length) {
      out.push(`dhcp-option-force=tag:${t},option:classless-static-route,${s.classlessRoutes.map((r) => `${r.to},${r.via}`).join(",")}`);
    }
  };
  for (const r of p.reservations) groupOf(r);
  for (const g of groups.values()) routeOptions(g.tag, g.sample);
  if (p.dynamicRange) {
    // Clients of the dynamic range (no dhcp-host line) get the network's router and routes.
    const t = `${tag}-dyn`;
    out.push(`tag-if=set:${t},tag:${tag},tag:!known`);
    routeOptions(t, { router: p.router, classlessRoutes: p.classlessRoutes });
  }
  out.push(...hosts);
}

function renderIpv6(n: NetworkDhcpPlan, tag: string, iface: string | undefined, out: string[]): void {
  const v6 = n.ipv6;
  if (!v6?.ra) return;
  const ra = v6.ra;
  const lifetime = ra.prefixes[0]?.validLifetime ?? 86400;
  const where = iface ? `::,constructor:${iface}` : v6.prefix;
  switch (v6.mode) {
    case "slaac":
      out.push(`dhcp-range=set:${tag},${where},ra-only,${v6.prefixLength},${lifetime}`);
      break;
    case "dhcpv6-stateless":
      out.push(`dhcp-range=set:${tag},${where},ra-stateless,${v6.prefixLength},${lifetime}`);
      break;
    case "dhcpv6-stateful":
      out.push(`dhcp-range=set:${tag},${where},static,${v6.prefixLength},${lifetime}`);
      for (const r of v6.dhcpv6?.reservations ?? []) out.push(`dhcp-host=${r.mac},[${r.address}],${r.hostname}`);
      break;
    case "static":
      // dnsmasq cannot announce a prefix on-link without also offering SLAAC; radvd can.
      out.push(`# ${n.network}: IPv6 mode "static" (on-link prefix, no SLAAC) is not expressible in dnsmasq; use radvd`);
      return;
  }
  if (ra.rdnss.length) out.push(`dhcp-option=tag:${tag},option6:dns-server,${ra.rdnss.map((s) => `[${s}]`).join(",")}`);
  if (ra.dnssl.length) out.push(`dhcp-option=tag:${tag},option6:domain-search,${ra.dnssl.join(",")}`);
  if (iface) {
    // dnsmasq's ra-param: interface, MTU (hosts ignore < 1280, dnsmasq refuses it), interval, router lifetime.
    const mtu = ra.mtu !== undefined && ra.mtu >= MIN_IPV6_MTU ? `mtu:${ra.mtu},` : "";
    out.push(`ra-param=${iface},${mtu}${Math.round(ra.maxInterval)},${ra.routerLifetime}`);
  } else {
    out.push(`# ${n.network}: without an interface (--interface ${n.network}=IF) dnsmasq announces the interface MTU, not ${ra.mtu ?? "none"}`);
  }
}

export function renderDnsmasq(plan: DhcpPlan, opts: DnsmasqRenderOptions = {}): string {
  const out: string[] = [
    `# dnsmasq configuration generated by guestlink from inventory revision ${plan.revision}.`,
    "# DHCP and router advertisements only: port=0 turns dnsmasq's DNS server off.",
    "port=0",
    "dhcp-authoritative",
  ];
  const ifaces = Object.values(opts.interfaces ?? {});
  if (ifaces.length) {
    out.push("bind-interfaces");
    for (const i of [...new Set(ifaces)]) out.push(`interface=${i}`);
  }
  if (opts.leaseFile) out.push(`dhcp-leasefile=${opts.leaseFile}`);
  if (plan.networks.some((n) => n.ipv6?.ra && n.ipv6.mode !== "static")) out.push("enable-ra");
  for (const n of plan.networks) {
    if (!n.ipv4 && !n.ipv6?.ra) continue;
    const tag = tagOf(n.network);
    const iface = opts.interfaces?.[n.network];
    out.push("", `# network ${n.network}: MTU ${n.mtu} (${n.mtuBecause.join("; ")})`);
    renderIpv4(n, tag, out);
    renderIpv6(n, tag, iface, out);
  }
  return `${out.join("\n")}\n`;
}
