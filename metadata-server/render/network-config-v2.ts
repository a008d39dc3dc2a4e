// NoCloud network-config, version 2 (the netplan subset). On netplan systems cloud-init passes it
// through verbatim; elsewhere it converts it to v1 and drops route metrics and ipv6-mtu, so v1 is
// the default and v2 is offered for Ubuntu/netplan guests.
import type { GuestInterface, ResolvedVm, Route } from "../model/types.ts";
import { toYaml, type YamlValue } from "./yaml-emit.ts";

type Section = Record<string, YamlValue>;

export function renderNetworkConfigV2(vm: ResolvedVm): string {
  const ethernets: Section = {};
  const bonds: Section = {};
  const vlans: Section = {};
  const bridges: Section = {};
  for (const iface of vm.interfaces) {
    const mtu = iface.mtuInCloudInit ? iface.mtu.value : undefined;
    switch (iface.kind) {
      case "physical":
        ethernets[iface.name] = { match: { macaddress: iface.mac }, "set-name": iface.name, mtu, ...v2Addressing(iface) };
        break;
      case "bond":
        bonds[iface.name] = {
          interfaces: iface.members ?? [], macaddress: iface.mac, mtu,
          parameters: { mode: iface.bondMode ?? "active-backup", "mii-monitor-interval": iface.bondMiimon ?? 100 },
          ...v2Addressing(iface),
        };
        break;
      case "vlan":
        vlans[iface.name] = { id: iface.vlanId!, link: iface.vlanLink!, mtu, ...v2Addressing(iface) };
        break;
      case "bridge":
        bridges[iface.name] = { interfaces: iface.members ?? [], mtu, parameters: { stp: false }, ...v2Addressing(iface) };
        break;
    }
  }
  const doc: Section = { version: 2, ethernets };
  if (Object.keys(bonds).length) doc.bonds = bonds;
  if (Object.keys(bridges).length) doc.bridges = bridges;
  if (Object.keys(vlans).length) doc.vlans = vlans;
  return toYaml(doc);
}

function v2Addressing(iface: GuestInterface): Section {
  if (!iface.network) return { dhcp4: false, dhcp6: false, "accept-ra": false };
  const addresses: string[] = [];
  const routes: YamlValue[] = [];
  const v4 = iface.ipv4;
  const v6 = iface.ipv6;
  if (v4?.method === "static") {
    addresses.push(`${v4.address}/${v4.prefixLength}`);
    for (const r of iface.routes.filter((r) => !r.to.includes(":"))) routes.push(v2Route(r));
  }
  if (v6?.method === "static") {
    addresses.push(`${v6.address}/${v6.prefixLength}`);
    for (const r of iface.routes.filter((r) => r.to.includes(":"))) routes.push(v2Route(r));
  }
  const anyStatic = v4?.method === "static" || v6?.method === "static";
  return {
    dhcp4: v4?.method === "dhcp",
    dhcp6: v6?.method === "dhcpv6-stateful" || v6?.method === "dhcpv6-stateless",
    // Router advertisements are what SLAAC and DHCPv6 hang off; a static-only interface ignores them.
    "accept-ra": v6 !== undefined && v6.method !== "static",
    addresses: addresses.length ? addresses : undefined,
    // gateway4/gateway6 rather than default routes: netplan still accepts them (with a deprecation
    // note), and cloud-init 22.4's v2 reader turns "::/0" routes into a /64 route on the first
    // subnet, while it maps gateway6 to the IPv6 subnet's gateway correctly.
    gateway4: v4?.method === "static" ? v4.gateway : undefined,
    gateway6: v6?.method === "static" ? v6.gateway : undefined,
    routes: routes.length ? routes : undefined,
    nameservers: anyStatic && (iface.dns.servers.length || iface.dns.search.length)
      ? { addresses: iface.dns.servers.length ? iface.dns.servers : undefined, search: iface.dns.search.length ? iface.dns.search : undefined }
      : undefined,
  };
}

function v2Route(r: Route): YamlValue {
  return { to: r.to, via: r.via, metric: r.metric };
}
