// ResolvedSite literals for the DHCP/RA unit tests: one reserved-address network with IPv6 SLAAC,
// one network with a dynamic range, built fresh per call so tests can modify them freely.
import type { GuestInterface, ResolvedNetwork, ResolvedSite, ResolvedVm } from "../../../metadata-server/model/types.ts";

export const LAN_MAC = "02:00:00:00:00:10";
export const LAN_ADDRESS = "192.0.2.10";
export const SECOND_MAC = "02:00:00:00:00:11";
export const SECOND_ADDRESS = "192.0.2.11";
export const STATIC_MAC = "02:00:00:00:00:12";
export const SERVER_ID = "192.0.2.1";

export function lanNetwork(mtu = 1442): ResolvedNetwork {
  return {
    name: "lan",
    type: "bridge",
    encapsulation: "none",
    mtu: { value: mtu, because: [`network lan sets mtu ${mtu}`] },
    mtuPolicy: "prefer-dhcp",
    ipv4: { cidr: "192.0.2.0/24", prefixLength: 24, netmask: "255.255.255.0", gateway: "192.0.2.1", dhcp: true, leaseTime: 3600 },
    ipv6: { cidr: "2001:db8:1::/64", prefixLength: 64, gateway: "2001:db8:1::1", mode: "slaac", ra: true },
    dns: { servers: ["192.0.2.53", "2001:db8:1::53"], search: ["example.test", "lab.example.test"] },
    routes: [{ to: "198.51.100.0/24", via: "192.0.2.254" }],
  };
}

export function poolNetwork(): ResolvedNetwork {
  return {
    name: "pool",
    type: "bridge",
    encapsulation: "none",
    mtu: { value: 1500, because: ["default"] },
    mtuPolicy: "prefer-dhcp",
    ipv4: {
      cidr: "198.51.100.0/24", prefixLength: 24, netmask: "255.255.255.0", gateway: "198.51.100.1", dhcp: true,
      leaseTime: 600, dynamicRange: { start: "198.51.100.100", end: "198.51.100.103" },
    },
    dns: { servers: ["198.51.100.53"], search: [] },
    routes: [],
  };
}

export function nic(mac: string, network: string, address: string, opts: { name?: string; routes?: GuestInterface["routes"]; method?: "dhcp" | "static"; gateway?: string; mtu?: number } = {}): GuestInterface {
  const mtu = opts.mtu ?? 1442;
  return {
    name: opts.name ?? "eth0",
    kind: "physical",
    mac,
    network,
    mtu: { value: mtu, because: ["from the network"] },
    mtuInCloudInit: false,
    ipv4: {
      method: opts.method ?? "dhcp", address, prefixLength: 24, netmask: "255.255.255.0",
      ...(opts.gateway ? { gateway: opts.gateway } : {}), origin: "inventory",
    },
    routes: opts.routes ?? [],
    dns: { servers: [], search: [] },
  };
}

export function vm(name: string, interfaces: GuestInterface[]): ResolvedVm {
  return {
    id: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    name,
    hostname: name,
    fqdn: `${name}.example.test`,
    sshKeys: [],
    userData: "",
    interfaces,
    dns: { servers: [], search: [] },
  };
}

export function site(mtu = 1442): ResolvedSite {
  return {
    revision: `rev-${mtu}`,
    domain: "example.test",
    networks: [lanNetwork(mtu), poolNetwork()],
    hosts: [],
    vms: [
      vm("web1", [nic(LAN_MAC, "lan", LAN_ADDRESS, { gateway: "192.0.2.1", mtu })]),
      // A second NIC without the VM's default route: option 3 and the 121 default must be absent.
      vm("db1", [nic(SECOND_MAC, "lan", SECOND_ADDRESS, { mtu })]),
      vm("static1", [nic(STATIC_MAC, "lan", "192.0.2.12", { method: "static", gateway: "192.0.2.1", mtu })]),
    ],
  };
}
