// The MTU consistency check: for every guest interface, what each layer says the MTU is, whether
// the layers agree, and in words which one disagrees and what to do about it. Pure: observations
// (host links, guest reports) come in as data; the API, the console and `guestlink mtu-check` all
// print this one result.
import type { ObservedGuest, ObservedGuestInterface } from "../observe/types.ts";
import { encapsulationOverhead, hostPathMtu, MIN_IPV6_MTU } from "./mtu.ts";
import type { GuestInterface, HostLink, ResolvedNetwork, ResolvedSite, ResolvedVm } from "./types.ts";

export type Layer = "network" | "host" | "libvirt" | "cloud-init" | "dhcp" | "ra" | "guest";
export type LayerStatus = "ok" | "mismatch" | "unknown" | "not-used";

export interface LayerResult {
  layer: Layer;
  status: LayerStatus;
  /** The MTU this layer carries or enforces, when it has one. */
  mtu?: number;
  detail: string;
}

export interface InterfaceFinding {
  name: string;
  mac: string;
  kind: GuestInterface["kind"];
  network: string;
  expected: number;
  verdict: "consistent" | "inconsistent";
  layers: LayerResult[];
  /** One sentence per disagreeing layer: what is wrong and what to do. */
  problems: string[];
}

export interface VmFinding {
  vmId: string;
  vmName: string;
  host?: string;
  reportedAt?: string;
  reportSource?: string;
  interfaces: InterfaceFinding[];
}

export interface MtuReport {
  revision: string;
  vms: VmFinding[];
  summary: { interfaces: number; inconsistent: number; guestsReporting: number };
}

export interface MtuCheckInput {
  site: ResolvedSite;
  /** Links seen on hosts (`ip -j -d link`), by host name; they take precedence over the inventory's. */
  hostLinks?: ReadonlyMap<string, readonly HostLink[]>;
  /** Latest guest reports, by VM id. */
  guests?: ReadonlyMap<string, ObservedGuest>;
  /** <mtu size> per MAC from each VM's libvirt domain XML (virtio host_mtu), by VM id. */
  libvirt?: ReadonlyMap<string, ReadonlyMap<string, number | null>>;
  /** MTUs a VM's seed really pinned (read back from the seed it booted with), by VM id then MAC. */
  seeds?: ReadonlyMap<string, ReadonlyMap<string, number | null>>;
  /**
   * Lowest option-26 value a common DHCP client applies: ISC dhclient ignores 576 and below
   * (measured with Debian's dhclient-script).
   */
  dhclientMinMtu?: number;
}

export function checkMtu(input: MtuCheckInput): MtuReport {
  const networks = new Map(input.site.networks.map((n) => [n.name, n]));
  const vms = input.site.vms.map((vm) => checkVm(vm, networks, input));
  const all = vms.flatMap((v) => v.interfaces);
  return {
    revision: input.site.revision,
    vms,
    summary: {
      interfaces: all.length,
      inconsistent: all.filter((i) => i.verdict === "inconsistent").length,
      guestsReporting: vms.filter((v) => v.reportedAt !== undefined).length,
    },
  };
}

function checkVm(vm: ResolvedVm, networks: Map<string, ResolvedNetwork>, input: MtuCheckInput): VmFinding {
  const report = input.guests?.get(vm.id);
  const interfaces: InterfaceFinding[] = [];
  for (const iface of vm.interfaces) {
    // Bond members have no network of their own: they ride their bond's.
    const netName = iface.network ?? vm.interfaces.find((b) => b.name === iface.master)?.network;
    const net = netName !== undefined ? networks.get(netName) : undefined;
    if (!net) continue;
    const layers = [
      networkLayer(net),
      hostLayer(vm, iface, net, input),
      libvirtLayer(iface, net, input.libvirt?.get(vm.id)),
      cloudInitLayer(iface, net, input.seeds?.get(vm.id)),
      dhcpLayer(iface, net, input.dhclientMinMtu ?? 576),
      raLayer(vm, iface, net, report),
      guestLayer(vm, iface, net, report),
    ];
    const problems = layers.filter((l) => l.status === "mismatch").map((l) => l.detail);
    interfaces.push({
      name: iface.name, mac: iface.mac, kind: iface.kind, network: net.name, expected: iface.mtu.value,
      verdict: problems.length ? "inconsistent" : "consistent", layers, problems,
    });
  }
  return {
    vmId: vm.id, vmName: vm.name, ...(vm.host ? { host: vm.host } : {}),
    ...(report ? { reportedAt: report.at, reportSource: report.source } : {}),
    interfaces,
  };
}

function networkLayer(net: ResolvedNetwork): LayerResult {
  return { layer: "network", status: "ok", mtu: net.mtu.value, detail: net.mtu.because.join("; ") };
}

function hostLayer(vm: ResolvedVm, iface: GuestInterface, net: ResolvedNetwork, input: MtuCheckInput): LayerResult {
  if (iface.kind !== "physical") return { layer: "host", status: "not-used", detail: `${iface.kind} inside the guest: its vNICs are checked` };
  if (!vm.host) return { layer: "host", status: "unknown", detail: `VM ${vm.name} names no host` };
  const host = input.site.hosts.find((h) => h.name === vm.host);
  const observed = input.hostLinks?.get(vm.host);
  const links = observed ?? host?.links;
  const origin = observed ? "as seen on the host" : "as the inventory describes it";
  if (!links || !host) return { layer: "host", status: "unknown", detail: `host ${vm.host} is not described (add it to the inventory or pass its "ip -j -d link")` };
  const overlay = net.encapsulation !== "none";
  const linkName = overlay ? host.tunnelLink : host.networks[net.name];
  if (!linkName) {
    return { layer: "host", status: "unknown", detail: overlay ? `host ${vm.host} names no tunnelLink` : `host ${vm.host} does not say which link carries ${net.name}` };
  }
  const path = hostPathMtu(vm.host, links, linkName);
  if (!path) {
    return { layer: "host", status: "mismatch", detail: `host ${vm.host} has no link ${linkName} (${origin}), which should carry network ${net.name}: create it, or fix hosts[].networks` };
  }
  const overhead = overlay ? encapsulationOverhead(net.encapsulation, "ipv4").bytes : 0;
  const needed = iface.mtu.value + overhead;
  if (path.mtu < needed) {
    const what = overlay ? `tunnels for ${net.name} need ${needed} (${iface.mtu.value} + ${overhead} of ${net.encapsulation.toUpperCase()})` : `network ${net.name} needs ${needed}`;
    return {
      layer: "host", status: "mismatch", mtu: path.mtu,
      detail: `host ${vm.host}: ${path.because[0]} (${origin}), but ${what}: larger frames are dropped on the host. Raise the MTU along that path to at least ${needed}, or lower the network MTU to ${path.mtu - overhead}`,
    };
  }
  return { layer: "host", status: "ok", mtu: path.mtu, detail: `${path.because[0]} (${origin})` };
}

function libvirtLayer(iface: GuestInterface, net: ResolvedNetwork, domain: ReadonlyMap<string, number | null> | undefined): LayerResult {
  if (iface.kind !== "physical") return { layer: "libvirt", status: "not-used", detail: `${iface.kind} inside the guest` };
  if (net.type === "sriov") return { layer: "libvirt", status: "not-used", detail: "an SR-IOV VF has no virtio host_mtu" };
  if (!domain) return { layer: "libvirt", status: "unknown", detail: "no domain XML given (virsh dumpxml)" };
  if (!domain.has(iface.mac)) return { layer: "libvirt", status: "mismatch", detail: `the domain has no interface with MAC ${iface.mac}` };
  const size = domain.get(iface.mac)!;
  if (size !== iface.mtu.value) {
    return {
      layer: "libvirt", status: "mismatch", ...(size !== null ? { mtu: size } : {}),
      detail: `libvirt gives ${iface.name} ${size === null ? "no <mtu>, so virtio-net reports 1500" : `<mtu size='${size}'/>`}, but network ${net.name} has ${iface.mtu.value}: set <mtu size='${iface.mtu.value}'/> on the interface (guestlink render --format libvirt)`,
    };
  }
  return { layer: "libvirt", status: "ok", mtu: size, detail: "virtio-net host_mtu from the domain's <mtu size>" };
}

function cloudInitLayer(iface: GuestInterface, net: ResolvedNetwork, seed: ReadonlyMap<string, number | null> | undefined): LayerResult {
  if (seed && iface.kind === "physical" && seed.has(iface.mac)) {
    // The seed the VM booted with, read back: it may predate an MTU change.
    const given = seed.get(iface.mac)!;
    if (given !== null && given !== iface.mtu.value) {
      return {
        layer: "cloud-init", status: "mismatch", mtu: given,
        detail: `the seed gave ${iface.name} MTU ${given}, but network ${net.name} now has ${iface.mtu.value}; cloud-init applied ${given} at first boot and keeps it (cloud-init #3793). Re-render the seed, and set the MTU in the running guest`,
      };
    }
    if (given === null) return { layer: "cloud-init", status: "not-used", detail: "the seed leaves the MTU to DHCP/RA" };
    return { layer: "cloud-init", status: "ok", mtu: given, detail: "the seed the VM booted with pins this MTU" };
  }
  if (!iface.mtuInCloudInit) {
    return { layer: "cloud-init", status: "not-used", detail: `left to DHCP/RA (mtuPolicy ${net.mtuPolicy}), so a later change still reaches the guest` };
  }
  return { layer: "cloud-init", status: "ok", mtu: iface.mtu.value, detail: `pinned in the seed's network config` };
}

function dhcpLayer(iface: GuestInterface, net: ResolvedNetwork, dhclientMin: number): LayerResult {
  if (!net.ipv4?.dhcp || iface.ipv4?.method !== "dhcp") return { layer: "dhcp", status: "not-used", detail: "not addressed by DHCPv4" };
  if (net.mtu.value <= dhclientMin) {
    return {
      layer: "dhcp", status: "mismatch", mtu: net.mtu.value,
      detail: `DHCP option 26 says ${net.mtu.value}, but ISC dhclient ignores values of ${dhclientMin} and below: pin the MTU in cloud-init (mtuPolicy: static)`,
    };
  }
  return { layer: "dhcp", status: "ok", mtu: net.mtu.value, detail: "option 26 carries the network MTU to every lease" };
}

function raLayer(vm: ResolvedVm, iface: GuestInterface, net: ResolvedNetwork, report: ObservedGuest | undefined): LayerResult {
  if (!net.ipv6?.ra || !iface.ipv6) return { layer: "ra", status: "not-used", detail: "no router advertisements on this network" };
  if (net.mtu.value < MIN_IPV6_MTU) return { layer: "ra", status: "not-used", detail: `the RA MTU option is left out below ${MIN_IPV6_MTU}` };
  // The kernel applies an RA's MTU to IPv6 only; a guest whose IPv6 MTU differs got another RA.
  const seen = report ? findObserved(iface, report.interfaces) : undefined;
  if (seen?.ipv6Mtu !== undefined && seen.ipv6Mtu !== net.mtu.value) {
    return {
      layer: "ra", status: "mismatch", mtu: seen.ipv6Mtu,
      detail: `${vm.name} ${seen.name} uses IPv6 MTU ${seen.ipv6Mtu}, not ${net.mtu.value}: a router advertisement with another MTU reached it. Look for another router on ${net.name} (rdisc6 ${seen.name}) and stop it or align its MTU`,
    };
  }
  return { layer: "ra", status: "ok", mtu: net.mtu.value, detail: "the RA MTU option carries the network MTU (the kernel applies it to IPv6 only)" };
}

function guestLayer(vm: ResolvedVm, iface: GuestInterface, net: ResolvedNetwork, report: ObservedGuest | undefined): LayerResult {
  if (!report) return { layer: "guest", status: "unknown", detail: "no report from the guest yet" };
  const seen = findObserved(iface, report.interfaces);
  if (!seen) {
    return { layer: "guest", status: "mismatch", detail: `the guest reports no interface ${iface.kind === "physical" ? `with MAC ${iface.mac}` : `named ${iface.name}`}: is the vNIC plugged in, and did cloud-init name it?` };
  }
  if (seen.mtu === undefined) return { layer: "guest", status: "unknown", detail: `${seen.name} is reported without an MTU (qemu-ga does not report MTUs; our agent does)` };
  const want = iface.mtu.value;
  if (seen.mtu === want) {
    return { layer: "guest", status: "ok", mtu: seen.mtu, detail: `${seen.name} has MTU ${seen.mtu} (reported ${report.at} by ${report.source})` };
  }
  const why = seen.mtu > want
    ? `it sends frames larger than ${net.name} carries, which are dropped (a path-MTU black hole for anything that does not fragment)`
    : `it wastes capacity and may fail to reach peers that expect ${want}`;
  const fix = iface.mtuInCloudInit
    ? `cloud-init pinned an MTU at the first boot of this instance-id and does not follow later changes (cloud-init #3793): set it in the guest (ip link set ${seen.name} mtu ${want}) or switch the network to mtuPolicy prefer-dhcp`
    : iface.ipv4?.method === "dhcp"
      ? `the MTU is left to DHCP (option 26): the guest's DHCP client must take it up. udhcpc and dhcpcd do on their next renewal; ISC dhclient (Debian's default) only on a new binding, so restart it (ifdown/ifup ${seen.name}) or reboot`
      : `the MTU is left to router advertisements, which the kernel applies to IPv6 only: pin it (mtuPolicy: static)`;
  return { layer: "guest", status: "mismatch", mtu: seen.mtu, detail: `${vm.name} ${seen.name}: the guest has MTU ${seen.mtu}, the network ${net.name} has ${want}; ${why}. ${fix}` };
}

function findObserved(iface: GuestInterface, seen: readonly ObservedGuestInterface[]): ObservedGuestInterface | undefined {
  // NICs are matched by MAC (names can differ: predictable names, renames); a bond or VLAN shares
  // its MAC with a NIC, so it is matched by name.
  if (iface.kind === "physical") return seen.find((s) => s.mac === iface.mac && !s.name.includes(".")) ?? seen.find((s) => s.mac === iface.mac);
  return seen.find((s) => s.name === iface.name);
}
