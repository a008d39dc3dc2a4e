// The resolved model: the one intermediate representation every renderer, the DHCP/RA plan,
// the HTTP service and the consistency check read. It is built once per inventory revision by
// model/resolve.ts and never mutated afterwards, so a reload swaps one object and a request can
// never observe half of an update.

export type NetworkType = "bridge" | "sriov" | "ovn" | "neutron-ovn";
export type Ipv6Mode = "slaac" | "dhcpv6-stateless" | "dhcpv6-stateful" | "static";
export type Encapsulation = "geneve" | "vxlan" | "none";

/**
 * How the MTU reaches a guest whose addresses come from DHCP/RA on a network we serve.
 * - "prefer-dhcp": leave it out of cloud-init's link config so DHCP option 26 / the RA MTU option
 *   supply it at every lease; a later MTU change then still reaches the guest (cloud-init #3793,
 *   Nova's fix for LP 1899487). Statically addressed interfaces still get it pinned.
 * - "static": always pin it in cloud-init data as well.
 */
export type MtuPolicy = "prefer-dhcp" | "static";

/** A value together with the reasoning that produced it, so operators can ask "why 1442?". */
export interface Explained<T> {
  value: T;
  /** One sentence per rule applied, in order. */
  because: string[];
}

export interface Route {
  /** Destination in CIDR form, e.g. "198.51.100.0/24" or "::/0". */
  to: string;
  via: string;
  metric?: number;
}

export interface Ipv4Subnet {
  cidr: string;          // "192.0.2.0/24"
  prefixLength: number;  // 24
  netmask: string;       // "255.255.255.0"
  gateway?: string;
  /** True when DHCPv4 is served on this network (by guestlink, or natively by OVN). */
  dhcp: boolean;
  leaseTime: number;     // seconds
  dynamicRange?: { start: string; end: string };
}

export interface Ipv6Subnet {
  cidr: string;          // "2001:db8:10::/64"
  prefixLength: number;
  gateway?: string;
  mode: Ipv6Mode;
  /** True when router advertisements are sent on this network. */
  ra: boolean;
}

export interface ResolvedNetwork {
  name: string;
  type: NetworkType;
  vlan?: number;
  encapsulation: Encapsulation;
  mtu: Explained<number>;
  mtuPolicy: MtuPolicy;
  ipv4?: Ipv4Subnet;
  ipv6?: Ipv6Subnet;
  dns: { servers: string[]; search: string[] };
  routes: Route[];
}

export type Ipv4Method = "static" | "dhcp";
export type Ipv6Method = "static" | "slaac" | "dhcpv6-stateless" | "dhcpv6-stateful";

export interface GuestIpv4 {
  method: Ipv4Method;
  /** The address (static) or the DHCP reservation (dhcp). Always known: allocated when not given. */
  address: string;
  prefixLength: number;
  netmask: string;
  /** Set only on the interface that carries the VM's one IPv4 default route. */
  gateway?: string;
  /** How the address was chosen: written in the inventory, or allocated from the network's range. */
  origin: "inventory" | "allocated";
}

export interface GuestIpv6 {
  method: Ipv6Method;
  /**
   * The address the guest should end up with: the static address, the DHCPv6 reservation, or for
   * SLAAC the modified EUI-64 address derived from the MAC (what the kernel configures by default).
   */
  address?: string;
  prefixLength: number;
  gateway?: string;
  origin: "inventory" | "allocated" | "eui64";
}

export type GuestInterfaceKind = "physical" | "bond" | "vlan" | "bridge";

export interface GuestInterface {
  /** Name inside the guest (cloud-init renames the NIC with this MAC to it). */
  name: string;
  kind: GuestInterfaceKind;
  /** Lowercase, colon separated. Bonds, VLANs and bridges carry their first member's / parent's MAC. */
  mac: string;
  /** Logical network whose addressing, DNS and routes this interface carries (absent on a bond member). */
  network?: string;
  mtu: Explained<number>;
  /** Whether cloud-init data pins the MTU (false when DHCP/RA deliver it, see MtuPolicy). */
  mtuInCloudInit: boolean;
  /** bond: member interface names; bridge: port names. */
  members?: string[];
  bondMode?: string;
  /** bond: link monitoring interval in ms (MII). */
  bondMiimon?: number;
  vlanId?: number;
  /** vlan: the parent interface name. */
  vlanLink?: string;
  /** physical: the bond or bridge this NIC is enslaved to. */
  master?: string;
  ipv4?: GuestIpv4;
  ipv6?: GuestIpv6;
  routes: Route[];
  dns: { servers: string[]; search: string[] };
}

export interface ResolvedVm {
  id: string;            // UUID, lowercase
  name: string;
  hostname: string;
  fqdn: string;
  host?: string;
  sshKeys: string[];
  /** Rendered user-data text (template applied), exactly what the guest receives. */
  userData: string;
  /** Physical NICs first in inventory order, then bonds, VLANs and bridges. */
  interfaces: GuestInterface[];
  dns: { servers: string[]; search: string[] };
  /** Optional host-side path of this VM's qemu-ga socket (libvirt channel), for the QGA poller. */
  qgaSocket?: string;
}

export type HostLinkType = "nic" | "bond" | "vlan" | "bridge";

export interface HostLink {
  name: string;
  type: HostLinkType;
  mtu: number;
  members?: string[];
  parent?: string;
  vlan?: number;
}

export interface ResolvedHost {
  name: string;
  links: HostLink[];
  /** logical network name -> host link that carries it (a bridge, VLAN, or SR-IOV PF). */
  networks: Record<string, string>;
  /** The link carrying tunnel (GENEVE/VXLAN) traffic, for OVN overlay networks. */
  tunnelLink?: string;
}

export interface ResolvedSite {
  /** Content hash of the inventory; changes whenever anything a guest can see changes. */
  revision: string;
  domain?: string;
  networks: ResolvedNetwork[];
  hosts: ResolvedHost[];
  vms: ResolvedVm[];
}
