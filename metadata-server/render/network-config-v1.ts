// NoCloud network-config, version 1: the format every cloud-init renderer (eni, netplan,
// networkd, sysconfig, NetworkManager) understands, so it is our default. See
// docs/cloud-init.md for where each field lands and which renderer drops what.
import type { GuestInterface, ResolvedVm, Route } from "../model/types.ts";
import { toYaml, type YamlValue } from "./yaml-emit.ts";

export function renderNetworkConfigV1(vm: ResolvedVm): string {
  const config: YamlValue[] = vm.interfaces.map((iface) => v1Item(iface));
  return toYaml({ version: 1, config });
}

function v1Item(iface: GuestInterface): { [key: string]: YamlValue } {
  const mtu = iface.mtuInCloudInit ? iface.mtu.value : undefined;
  const subnets = v1Subnets(iface);
  switch (iface.kind) {
    case "physical":
      return { type: "physical", name: iface.name, mac_address: iface.mac, mtu, subnets };
    case "bond":
      return {
        type: "bond", name: iface.name, mac_address: iface.mac, bond_interfaces: iface.members ?? [], mtu,
        params: { "bond-mode": iface.bondMode ?? "active-backup", "bond-miimon": iface.bondMiimon ?? 100 },
        subnets,
      };
    case "vlan":
      return { type: "vlan", name: iface.name, vlan_link: iface.vlanLink!, vlan_id: iface.vlanId!, mac_address: iface.mac, mtu, subnets };
    case "bridge":
      return { type: "bridge", name: iface.name, bridge_interfaces: iface.members ?? [], params: { bridge_stp: "off" }, mtu, subnets };
  }
}

function v1Subnets(iface: GuestInterface): YamlValue[] {
  const subnets: YamlValue[] = [];
  const v4Routes = iface.routes.filter((r) => !r.to.includes(":"));
  const v6Routes = iface.routes.filter((r) => r.to.includes(":"));
  const staticDns = { dns_nameservers: iface.dns.servers.length ? iface.dns.servers : undefined, dns_search: iface.dns.search.length ? iface.dns.search : undefined };
  if (iface.ipv4) {
    if (iface.ipv4.method === "dhcp") {
      // Routes, DNS and (under the prefer-dhcp policy) the MTU come from the DHCP server.
      subnets.push({ type: "dhcp4" });
    } else {
      subnets.push({
        type: "static",
        address: `${iface.ipv4.address}/${iface.ipv4.prefixLength}`,
        gateway: iface.ipv4.gateway,
        ...staticDns,
        routes: v4Routes.length ? v4Routes.map(v1Route) : undefined,
      });
    }
  }
  if (iface.ipv6) {
    switch (iface.ipv6.method) {
      case "static":
        subnets.push({
          type: "static6",
          address: `${iface.ipv6.address}/${iface.ipv6.prefixLength}`,
          gateway: iface.ipv6.gateway,
          ...(iface.ipv4?.method === "static" ? {} : staticDns),
          routes: v6Routes.length ? v6Routes.map(v1Route) : undefined,
        });
        break;
      case "slaac":
        subnets.push({ type: "ipv6_slaac" });
        break;
      case "dhcpv6-stateless":
        subnets.push({ type: "ipv6_dhcpv6-stateless" });
        break;
      case "dhcpv6-stateful":
        subnets.push({ type: "ipv6_dhcpv6-stateful" });
        break;
    }
  }
  return subnets;
}

function v1Route(r: Route): YamlValue {
  // CIDR in `network` is what cloud-init's upstream v1 schema accepts (not a separate `prefix`).
  return { network: r.to, gateway: r.via, metric: r.metric };
}
