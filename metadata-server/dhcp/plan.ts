// The DHCP/RA plan: what every network served here offers, as a pure function of the resolved
// site, in the spirit of OVN's DHCP_Options (per port) and ipv6_ra_configs (per router port).
// The DHCP server, the RA sender, the dnsmasq/radvd renderers and GET /v1/networks/<name>/dhcp
// all read this one object, so the MTU a guest learns from DHCP/RA is by construction the MTU
// cloud-init data carries (both come from ResolvedNetwork.mtu / GuestInterface.mtu).
import { z } from "zod";
import { cidrLast, formatIpv4, parseCidr, parseIpv4, parseIpv6 } from "../model/addr.ts";
import type { ResolvedNetwork, ResolvedSite, ResolvedVm, Route } from "../model/types.ts";

export interface PlanOptions {
  /** T1 as a fraction of the lease time (RFC 2131 4.4.5 default 0.5). */
  renewalFraction: number;
  /** T2 as a fraction of the lease time (RFC 2131 4.4.5 default 0.875). */
  rebindingFraction: number;
  /** RA MaxRtrAdvInterval in seconds (RFC 4861 default 600; OVN max_interval). */
  raMaxInterval: number;
  /** RA MinRtrAdvInterval in seconds; default max/3 as in RFC 4861 and OVN. */
  raMinInterval?: number;
  /** Router lifetime when the network has an IPv6 gateway (RFC 4861 default 3 x max interval). */
  raRouterLifetime?: number;
  /** Prefix valid / preferred lifetimes (RFC 4861 defaults: 30 and 7 days). */
  prefixValidLifetime: number;
  prefixPreferredLifetime: number;
  /** RDNSS/DNSSL lifetime (RFC 8106 recommends at least 3 x max interval). */
  dnsLifetime?: number;
}

export const DEFAULT_PLAN_OPTIONS: PlanOptions = {
  renewalFraction: 0.5,
  rebindingFraction: 0.875,
  raMaxInterval: 600,
  prefixValidLifetime: 2_592_000,
  prefixPreferredLifetime: 604_800,
};

/** RFC 2132 9.1: option 26 is at least 68. RFC 8200 5 / RFC 4861 4.6.4: IPv6 links are at least 1280. */
export const MIN_DHCP_MTU = 68;
export const MIN_IPV6_MTU = 1280;

const RouteSchema = z.object({ to: z.string(), via: z.string() });

const ReservationSchema = z.object({
  mac: z.string(),
  address: z.string(),
  hostname: z.string(),
  fqdn: z.string().optional(),
  vm: z.string(),
  interface: z.string(),
  /** Option 3 and the 0.0.0.0/0 entry of option 121: only on the NIC that carries the VM's default route. */
  router: z.string().optional(),
  /** Option 121 (the default route last, when router is set). */
  classlessRoutes: z.array(RouteSchema),
  mtu: z.number().int().optional(),
});

const Dhcp4Schema = z.object({
  subnet: z.string(),
  subnetMask: z.string(),
  broadcast: z.string(),
  /** Server identifier fallback when the serving interface has no address in the subnet. */
  serverIdentifier: z.string().optional(),
  leaseTime: z.number().int(),
  renewalTime: z.number().int(),
  rebindingTime: z.number().int(),
  router: z.string().optional(),
  dnsServers: z.array(z.string()),
  domainName: z.string().optional(),
  domainSearch: z.array(z.string()),
  mtu: z.number().int().optional(),
  classlessRoutes: z.array(RouteSchema),
  /** Option codes sent in every OFFER/ACK, whether requested or not (OVN style). */
  offeredOptions: z.array(z.number().int()),
  dynamicRange: z.object({ start: z.string(), end: z.string() }).optional(),
  reservations: z.array(ReservationSchema),
});

const RaSchema = z.object({
  managed: z.boolean(),
  other: z.boolean(),
  /** Absent when the network MTU is below 1280 (hosts ignore it; OVN drops it; radvd refuses it). */
  mtu: z.number().int().optional(),
  minInterval: z.number(),
  maxInterval: z.number(),
  routerLifetime: z.number().int(),
  prefixes: z.array(z.object({
    prefix: z.string(),
    prefixLength: z.number().int(),
    onLink: z.boolean(),
    autonomous: z.boolean(),
    validLifetime: z.number().int(),
    preferredLifetime: z.number().int(),
  })),
  rdnss: z.array(z.string()),
  dnssl: z.array(z.string()),
  dnsLifetime: z.number().int(),
});

const Ipv6Schema = z.object({
  prefix: z.string(),
  prefixLength: z.number().int(),
  mode: z.enum(["slaac", "dhcpv6-stateless", "dhcpv6-stateful", "static"]),
  gateway: z.string().optional(),
  ra: RaSchema.optional(),
  dhcpv6: z.object({
    stateful: z.boolean(),
    /** Preferred and valid lifetime of stateful addresses (the network's DHCPv4 lease time). */
    leaseTime: z.number().int(),
    dnsServers: z.array(z.string()),
    domainSearch: z.array(z.string()),
    reservations: z.array(z.object({ mac: z.string(), address: z.string(), hostname: z.string() })),
  }).optional(),
});

export const NetworkDhcpPlanSchema = z.object({
  network: z.string(),
  mtu: z.number().int(),
  mtuBecause: z.array(z.string()),
  ipv4: Dhcp4Schema.optional(),
  ipv6: Ipv6Schema.optional(),
});

export const DhcpPlanSchema = z.object({
  revision: z.string(),
  networks: z.array(NetworkDhcpPlanSchema),
});

export type DhcpReservation = z.infer<typeof ReservationSchema>;
export type Dhcp4Plan = z.infer<typeof Dhcp4Schema>;
export type RaPlan = z.infer<typeof RaSchema>;
export type Ipv6Plan = z.infer<typeof Ipv6Schema>;
export type NetworkDhcpPlan = z.infer<typeof NetworkDhcpPlanSchema>;
export type DhcpPlan = z.infer<typeof DhcpPlanSchema>;

const isV4 = (s: string) => parseIpv4(s) !== undefined;
const isV6 = (s: string) => parseIpv6(s) !== undefined;
const isV4Route = (r: Route) => isV4(r.via) && isV4(r.to.split("/")[0] ?? "");
const isDefault4 = (to: string) => to === "0.0.0.0/0";

function uniqueRoutes(routes: Route[]): { to: string; via: string }[] {
  const seen = new Set<string>();
  const out: { to: string; via: string }[] = [];
  for (const r of routes) {
    if (!isV4Route(r) || isDefault4(r.to) || seen.has(r.to)) continue;
    seen.add(r.to);
    out.push({ to: r.to, via: r.via });
  }
  return out;
}

/** RFC 3442 3: a client that gets option 121 ignores option 3, so the default route goes in both. */
function withDefault(routes: { to: string; via: string }[], router: string | undefined) {
  return router ? [...routes, { to: "0.0.0.0/0", via: router }] : routes;
}

function buildIpv4(net: ResolvedNetwork, site: ResolvedSite, o: PlanOptions): Dhcp4Plan | undefined {
  const v4 = net.ipv4;
  if (!v4 || !v4.dhcp) return undefined;
  const cidr = parseCidr(v4.cidr);
  if ("error" in cidr) return undefined;
  const dnsServers = net.dns.servers.filter(isV4);
  const domainSearch = net.dns.search;
  const domainName = net.dns.search[0] ?? site.domain;
  const mtu = net.mtu.value >= MIN_DHCP_MTU && net.mtu.value <= 65535 ? net.mtu.value : undefined;
  const networkRoutes = uniqueRoutes(net.routes);
  const reservations: DhcpReservation[] = [];
  const seenMacs = new Set<string>();
  for (const vm of site.vms) collectReservations(vm, net, reservations, seenMacs);
  reservations.sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));

  const offered = [1, 51, 54, 58, 59];
  if (v4.gateway) offered.push(3);
  if (dnsServers.length) offered.push(6);
  offered.push(12); // per reservation
  if (domainName) offered.push(15);
  if (mtu !== undefined) offered.push(26);
  if (domainSearch.length) offered.push(119);
  if (v4.gateway || networkRoutes.length) offered.push(121);
  offered.sort((a, b) => a - b);

  return {
    subnet: v4.cidr,
    subnetMask: v4.netmask,
    broadcast: formatIpv4(Number(cidrLast(cidr))),
    serverIdentifier: v4.gateway,
    leaseTime: v4.leaseTime,
    renewalTime: Math.floor(v4.leaseTime * o.renewalFraction),
    rebindingTime: Math.floor(v4.leaseTime * o.rebindingFraction),
    router: v4.gateway,
    dnsServers,
    domainName,
    domainSearch,
    mtu,
    classlessRoutes: withDefault(networkRoutes, v4.gateway),
    offeredOptions: offered,
    dynamicRange: v4.dynamicRange ? { ...v4.dynamicRange } : undefined,
    reservations,
  };
}

function collectReservations(
  vm: ResolvedVm,
  net: ResolvedNetwork,
  out: DhcpReservation[],
  seenMacs: Set<string>,
): void {
  for (const iface of vm.interfaces) {
    if (iface.network !== net.name || !iface.ipv4 || iface.ipv4.method !== "dhcp") continue;
    // Bonds, VLANs and bridges carry a member's MAC; the DHCP client runs on the top device, and
    // two reservations for one MAC on one network would be ambiguous, so the first one wins.
    const mac = iface.mac.toLowerCase();
    if (seenMacs.has(mac)) continue;
    seenMacs.add(mac);
    const routes = uniqueRoutes([...net.routes, ...iface.routes]);
    const router = iface.ipv4.gateway;
    out.push({
      mac,
      address: iface.ipv4.address,
      hostname: vm.hostname,
      fqdn: vm.fqdn || undefined,
      vm: vm.name,
      interface: iface.name,
      router,
      classlessRoutes: withDefault(routes, router),
      mtu: iface.mtu.value >= MIN_DHCP_MTU && iface.mtu.value <= 65535 ? iface.mtu.value : undefined,
    });
  }
}

function buildIpv6(net: ResolvedNetwork, site: ResolvedSite, o: PlanOptions): Ipv6Plan | undefined {
  const v6 = net.ipv6;
  if (!v6) return undefined;
  const cidr = parseCidr(v6.cidr);
  if ("error" in cidr) return undefined;
  const prefix = v6.cidr.split("/")[0]!;
  const dns6 = net.dns.servers.filter(isV6);
  const search = net.dns.search;
  const maxInterval = o.raMaxInterval;
  const minInterval = o.raMinInterval ?? Math.max(3, maxInterval / 3);
  // RFC 4862 5.5.3: SLAAC needs a /64; a longer or shorter prefix is announced on-link only.
  const autonomous = (v6.mode === "slaac" || v6.mode === "dhcpv6-stateless") && v6.prefixLength === 64;
  const ra: RaPlan | undefined = v6.ra
    ? {
        managed: v6.mode === "dhcpv6-stateful",
        other: v6.mode === "dhcpv6-stateful" || v6.mode === "dhcpv6-stateless",
        mtu: net.mtu.value >= MIN_IPV6_MTU && net.mtu.value <= 0xffffffff ? net.mtu.value : undefined,
        minInterval,
        maxInterval,
        // Only advertise ourselves as a default router when the network has an IPv6 gateway: the
        // RA's source is the router, and guests would otherwise send everything to this host.
        routerLifetime: v6.gateway ? Math.min(9000, o.raRouterLifetime ?? Math.round(3 * maxInterval)) : 0,
        prefixes: [{
          prefix,
          prefixLength: v6.prefixLength,
          onLink: true,
          autonomous,
          validLifetime: o.prefixValidLifetime,
          preferredLifetime: Math.min(o.prefixPreferredLifetime, o.prefixValidLifetime),
        }],
        rdnss: dns6,
        dnssl: search,
        dnsLifetime: o.dnsLifetime ?? Math.round(3 * maxInterval),
      }
    : undefined;
  const dhcpv6 = v6.mode === "dhcpv6-stateless" || v6.mode === "dhcpv6-stateful"
    ? {
        stateful: v6.mode === "dhcpv6-stateful",
        leaseTime: net.ipv4?.leaseTime ?? 3600,
        dnsServers: dns6,
        domainSearch: search,
        reservations: site.vms.flatMap((vm) =>
          vm.interfaces
            .filter((i) => i.network === net.name && i.ipv6?.method === "dhcpv6-stateful" && i.ipv6.address)
            .map((i) => ({ mac: i.mac.toLowerCase(), address: i.ipv6!.address!, hostname: vm.hostname }))),
      }
    : undefined;
  return { prefix, prefixLength: v6.prefixLength, mode: v6.mode, gateway: v6.gateway, ra, dhcpv6 };
}

export function planNetwork(net: ResolvedNetwork, site: ResolvedSite, options: Partial<PlanOptions> = {}): NetworkDhcpPlan {
  const o = { ...DEFAULT_PLAN_OPTIONS, ...options };
  return {
    network: net.name,
    mtu: net.mtu.value,
    mtuBecause: [...net.mtu.because],
    ipv4: buildIpv4(net, site, o),
    ipv6: buildIpv6(net, site, o),
  };
}

/** The whole plan, networks in inventory order. */
export function buildDhcpPlan(site: ResolvedSite, options: Partial<PlanOptions> = {}): DhcpPlan {
  return { revision: site.revision, networks: site.networks.map((n) => planNetwork(n, site, options)) };
}

/**
 * The JSON body of GET /v1/networks/<name>/dhcp: the plan of one network, or undefined when the
 * site has no network of that name (the HTTP layer answers 404). Validated against the schema so
 * the wire contract cannot drift from the types.
 */
/** Documents already built for a site revision (default options only): the plan walks every VM. */
const documents = new WeakMap<ResolvedSite, Map<string, NetworkDhcpPlan>>();

export function networkDhcpDocument(site: ResolvedSite, networkName: string, options: Partial<PlanOptions> = {}): NetworkDhcpPlan | undefined {
  const cacheable = Object.keys(options).length === 0;
  const cached = cacheable ? documents.get(site)?.get(networkName) : undefined;
  if (cached) return cached;
  const net = site.networks.find((n) => n.name === networkName);
  if (!net) return undefined;
  const doc = NetworkDhcpPlanSchema.parse(JSON.parse(JSON.stringify(planNetwork(net, site, options))));
  if (cacheable) {
    let bySite = documents.get(site);
    if (!bySite) documents.set(site, (bySite = new Map()));
    bySite.set(networkName, doc);
  }
  return doc;
}
