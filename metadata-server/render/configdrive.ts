// OpenStack ConfigDrive v2 / metadata service documents: meta_data.json, network_data.json,
// vendor_data.json, user_data. The same documents are written into config-2 images and served
// over HTTP under /openstack/<version>/.
import { netmaskOf } from "../model/addr.ts";
import type { GuestInterface, NetworkType, ResolvedSite, ResolvedVm, Route } from "../model/types.ts";
import type { RenderContext } from "./context.ts";
import { renderVendorData } from "./nocloud.ts";

/** The newest dated version cloud-init 22.4 knows; it reads this directory before `latest`. */
export const OPENSTACK_DATED_VERSION = "2018-08-27";
export const OPENSTACK_VERSIONS = ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06", "2017-02-22", OPENSTACK_DATED_VERSION] as const;

export function renderMetaDataJson(vm: ResolvedVm): string {
  const publicKeys: Record<string, string> = {};
  vm.sshKeys.forEach((k, i) => (publicKeys[`key-${i}`] = k));
  return json({
    uuid: vm.id,
    name: vm.name,
    hostname: vm.fqdn,
    launch_index: 0,
    public_keys: publicKeys,
    keys: vm.sshKeys.map((k, i) => ({ name: `key-${i}`, type: "ssh", data: k })),
    meta: {},
  });
}

/** Nova's legacy VIF types, which cloud-init treats as physical links; informative for operators. */
const VIF_TYPE: Record<NetworkType, string> = { bridge: "bridge", sriov: "hw_veb", ovn: "ovs", "neutron-ovn": "ovs" };

export function renderNetworkDataJson(vm: ResolvedVm, site: ResolvedSite): string {
  const networkType = new Map(site.networks.map((n) => [n.name, n.type]));
  const links: Record<string, unknown>[] = [];
  const networks: Record<string, unknown>[] = [];
  const physicalNetwork = (iface: GuestInterface) => iface.network ?? vm.interfaces.find((b) => b.name === iface.master)?.network;
  for (const iface of vm.interfaces) {
    // A null MTU tells cloud-init to leave the MTU to DHCP (Nova does the same since LP 1899487).
    const mtu = iface.mtuInCloudInit ? iface.mtu.value : null;
    switch (iface.kind) {
      case "physical":
        links.push({ id: iface.name, name: iface.name, type: VIF_TYPE[networkType.get(physicalNetwork(iface) ?? "") ?? "bridge"], ethernet_mac_address: iface.mac, mtu });
        break;
      case "bond":
        links.push({
          id: iface.name, type: "bond", bond_links: iface.members ?? [], bond_mode: iface.bondMode ?? "active-backup",
          bond_miimon: iface.bondMiimon ?? 100, ethernet_mac_address: iface.mac, mtu,
        });
        break;
      case "vlan":
        links.push({ id: iface.name, type: "vlan", vlan_link: iface.vlanLink, vlan_id: iface.vlanId, vlan_mac_address: iface.mac, ethernet_mac_address: iface.mac, mtu });
        break;
      case "bridge":
        // network_data.json has no bridge link type; bridges are a NoCloud-only feature.
        break;
    }
    networks.push(...networkEntries(iface, networks.length));
  }
  const dns: string[] = [];
  for (const i of vm.interfaces) if (i.ipv4?.method === "static" || i.ipv6?.method === "static") for (const s of i.dns.servers) if (!dns.includes(s)) dns.push(s);
  return json({ links, networks, services: dns.map((address) => ({ type: "dns", address })) });
}

function networkEntries(iface: GuestInterface, start: number): Record<string, unknown>[] {
  if (!iface.network) return [];
  const out: Record<string, unknown>[] = [];
  const id = () => `network${start + out.length}`;
  const dnsFor = (isStatic: boolean) =>
    isStatic ? { dns_nameservers: iface.dns.servers, dns_search: iface.dns.search, services: iface.dns.servers.map((address) => ({ type: "dns", address })) } : {};
  if (iface.ipv4) {
    if (iface.ipv4.method === "dhcp") {
      out.push({ id: id(), link: iface.name, type: "ipv4_dhcp", network_id: iface.network });
    } else {
      const routes: Record<string, unknown>[] = [];
      if (iface.ipv4.gateway) routes.push({ network: "0.0.0.0", netmask: "0.0.0.0", gateway: iface.ipv4.gateway });
      for (const r of iface.routes.filter((r) => !r.to.includes(":"))) routes.push(jsonRoute(r, 4));
      out.push({
        id: id(), link: iface.name, type: "ipv4", ip_address: iface.ipv4.address, netmask: iface.ipv4.netmask,
        routes, network_id: iface.network, ...dnsFor(true),
      });
    }
  }
  if (iface.ipv6) {
    if (iface.ipv6.method === "static") {
      const routes: Record<string, unknown>[] = [];
      if (iface.ipv6.gateway) routes.push({ network: "::", netmask: "::", gateway: iface.ipv6.gateway });
      for (const r of iface.routes.filter((r) => r.to.includes(":"))) routes.push(jsonRoute(r, 6));
      out.push({
        id: id(), link: iface.name, type: "ipv6", ip_address: iface.ipv6.address, netmask: ipv6Netmask(iface.ipv6.prefixLength),
        routes, network_id: iface.network, ...(iface.ipv4?.method === "static" ? {} : dnsFor(true)),
      });
    } else {
      out.push({ id: id(), link: iface.name, type: `ipv6_${iface.ipv6.method}`, network_id: iface.network });
    }
  }
  return out;
}

function jsonRoute(r: Route, family: 4 | 6): Record<string, unknown> {
  const [network, prefix] = r.to.split("/");
  const netmask = family === 4 ? netmaskOf(Number(prefix)) : ipv6Netmask(Number(prefix));
  return { network, netmask, gateway: r.via, ...(r.metric !== undefined ? { metric: r.metric } : {}) };
}

/** IPv6 netmask in address form ("ffff:ffff:ffff:ffff::"), which every cloud-init version parses. */
function ipv6Netmask(prefixLength: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefixLength - i * 16));
    groups.push(((0xffff << (16 - bits)) & 0xffff).toString(16));
  }
  const firstZero = groups.indexOf("0");
  return firstZero < 0 ? groups.join(":") : `${groups.slice(0, firstZero).join(":")}::`;
}

export function renderVendorDataJson(vm: ResolvedVm, ctx: RenderContext): string {
  // cloud-init takes the "cloud-init" member of vendor_data.json as vendor-data.
  return json({ "cloud-init": renderVendorData(vm, ctx) });
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}
