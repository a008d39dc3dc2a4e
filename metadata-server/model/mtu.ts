// The MTU rules, in one place, each able to say why it gave the value it gave. Everything that
// needs an MTU (cloud-init renderers, DHCP option 26, the RA MTU option, libvirt <mtu>, the
// consistency check) reads the value decided here, so the layers can never disagree by accident.
import type { Encapsulation, Explained, HostLink, NetworkType } from "./types.ts";

export const DEFAULT_MTU = 1500;
/** RFC 791: every IPv4 host must handle 68-byte datagrams; below that nothing works. */
export const MIN_IPV4_MTU = 68;
/** RFC 8200: IPv6 needs every link to carry 1280 bytes. */
export const MIN_IPV6_MTU = 1280;
export const MAX_MTU = 65535;

export type UnderlayFamily = "ipv4" | "ipv6";

/**
 * Bytes a tunnel adds around each guest frame, which the underlay must carry on top of the
 * guest's MTU. GENEVE as OVN uses it: outer IP + UDP 8 + GENEVE header 8 + OVN's 8-byte metadata
 * option + the inner Ethernet header 14. Over IPv4 that is 58, which gives oVirt's 1442 on a
 * 1500 underlay. VXLAN has no options: outer IP + UDP 8 + VXLAN 8 + inner Ethernet 14.
 */
export function encapsulationOverhead(encapsulation: Encapsulation, family: UnderlayFamily): { bytes: number; parts: string } {
  const ip = family === "ipv4" ? 20 : 40;
  const ipName = family === "ipv4" ? "IPv4" : "IPv6";
  switch (encapsulation) {
    case "geneve":
      return { bytes: ip + 8 + 8 + 8 + 14, parts: `${ip} ${ipName} + 8 UDP + 8 GENEVE + 8 OVN option + 14 inner Ethernet` };
    case "vxlan":
      return { bytes: ip + 8 + 8 + 14, parts: `${ip} ${ipName} + 8 UDP + 8 VXLAN + 14 inner Ethernet` };
    case "none":
      return { bytes: 0, parts: "no encapsulation" };
  }
}

export function defaultEncapsulation(type: NetworkType, vlan: number | undefined): Encapsulation {
  // An OVN network with a VLAN id is a localnet (provider) network: frames leave the host tagged,
  // not tunnelled. Without one it is an overlay, and OVN's default tunnel is GENEVE.
  if ((type === "ovn" || type === "neutron-ovn") && vlan === undefined) return "geneve";
  return "none";
}

export interface HostPath {
  host: string;
  link: string;
  /** The most a frame can be on this path: the smallest MTU of the link and everything under it. */
  mtu: number;
  because: string[];
}

/**
 * The MTU a host path really allows: a VLAN is bounded by its parent, a bond by its members, a
 * bridge by its ports. Returns the smallest value found and the chain that produced it.
 * Cycles and unknown links end the walk (the resolver reports them as inventory errors).
 */
export function hostPathMtu(host: string, links: readonly HostLink[], linkName: string): HostPath | undefined {
  const byName = new Map(links.map((l) => [l.name, l]));
  const walk = (name: string, seen: Set<string>): { mtu: number; via: string } | undefined => {
    const link = byName.get(name);
    if (!link || seen.has(name)) return undefined;
    seen.add(name);
    const self = `${link.name} (${link.type}, MTU ${link.mtu})`;
    const lower = link.type === "vlan" ? (link.parent ? [link.parent] : []) : (link.members ?? []);
    // The tightest layer underneath decides; on a tie the first one listed is named.
    let tightest: { mtu: number; via: string } | undefined;
    for (const child of lower) {
      const sub = walk(child, new Set(seen));
      if (sub && (!tightest || sub.mtu < tightest.mtu)) tightest = sub;
    }
    if (!tightest) return { mtu: link.mtu, via: self };
    return { mtu: Math.min(link.mtu, tightest.mtu), via: `${self} over ${tightest.via}` };
  };
  const found = walk(linkName, new Set());
  if (!found) return undefined;
  return { host, link: linkName, mtu: found.mtu, because: [`on host ${host} the path is ${found.via}, which allows at most ${found.mtu}`] };
}

export interface NetworkMtuInput {
  name: string;
  type: NetworkType;
  encapsulation: Encapsulation;
  explicitMtu?: number;
  hasIpv6: boolean;
  /** Underlay MTU for overlay networks, with where it came from. */
  underlay: { mtu: number; family: UnderlayFamily; source: string };
  /** Host links that carry this network (bridge, VLAN, SR-IOV PF); empty when no host is described. */
  hostPaths: HostPath[];
}

export interface MtuProblem {
  /** "mtu" when the value itself is at fault, "host" when a host path cannot carry it. */
  field: "mtu" | "host";
  host?: string;
  message: string;
}

/** Decides a logical network's MTU and lists every reason it would be impossible. */
export function decideNetworkMtu(input: NetworkMtuInput): { mtu: Explained<number>; problems: MtuProblem[] } {
  const because: string[] = [];
  const problems: MtuProblem[] = [];
  const overlay = input.encapsulation !== "none";
  const overhead = encapsulationOverhead(input.encapsulation, input.underlay.family);
  const overlayCeiling = input.underlay.mtu - overhead.bytes;
  const tightestHost = input.hostPaths.reduce<HostPath | undefined>((a, p) => (!a || p.mtu < a.mtu ? p : a), undefined);

  let value: number;
  if (input.explicitMtu !== undefined) {
    value = input.explicitMtu;
    because.push(`MTU ${value} is set on network ${input.name}`);
  } else if (overlay) {
    value = overlayCeiling;
    because.push(
      `network ${input.name} is an OVN overlay over ${input.encapsulation.toUpperCase()}: ` +
        `${input.underlay.mtu} (${input.underlay.source}) - ${overhead.bytes} (${overhead.parts}) = ${value}`,
    );
  } else {
    value = DEFAULT_MTU;
    because.push(`no MTU is set on network ${input.name}, so the default of ${DEFAULT_MTU} applies`);
    if (tightestHost && tightestHost.mtu < value) {
      value = tightestHost.mtu;
      because.push(`lowered to ${value} to fit the host path: ${tightestHost.because[0]}`);
    }
  }
  if (input.type === "sriov") {
    because.push("SR-IOV VFs take the MTU from cloud-init/DHCP inside the guest; oVirt does not propagate it, guestlink does");
  }

  if (value < MIN_IPV4_MTU) {
    problems.push({ field: "mtu", message: `MTU ${value} is impossible: below ${MIN_IPV4_MTU}, the smallest datagram every IPv4 host must carry (RFC 791)` });
  } else if (input.hasIpv6 && value < MIN_IPV6_MTU) {
    problems.push({ field: "mtu", message: `MTU ${value} is impossible on a network with IPv6: below ${MIN_IPV6_MTU}, the IPv6 minimum link MTU (RFC 8200)` });
  }
  if (value > MAX_MTU) {
    problems.push({ field: "mtu", message: `MTU ${value} is impossible: above ${MAX_MTU}` });
  }
  if (overlay && input.explicitMtu !== undefined && value > overlayCeiling) {
    problems.push({
      field: "mtu",
      message:
        `MTU ${value} is impossible over ${input.encapsulation.toUpperCase()}: the underlay (${input.underlay.source}) carries ${input.underlay.mtu}, ` +
        `and ${overhead.bytes} bytes go to encapsulation, so at most ${overlayCeiling} is left (or raise the underlay MTU to ${value + overhead.bytes})`,
    });
  }
  if (!overlay) {
    for (const path of input.hostPaths) {
      if (value > path.mtu) {
        problems.push({
          field: "host",
          host: path.host,
          message: `MTU ${value} is impossible on host ${path.host}: it rides on ${path.link}, and ${path.because[0]}`,
        });
      }
    }
  }
  return { mtu: { value, because }, problems };
}

/** A VLAN inside the guest never exceeds its parent; a bond's members carry the bond's MTU. */
export function guestVlanMtu(vlanNetworkMtu: Explained<number>, parentName: string, parentMtu: number): { mtu: Explained<number>; exceedsParent: boolean } {
  const because = [...vlanNetworkMtu.because];
  const exceedsParent = vlanNetworkMtu.value > parentMtu;
  if (!exceedsParent) because.push(`fits within its parent ${parentName} (MTU ${parentMtu})`);
  return { mtu: { value: vlanNetworkMtu.value, because }, exceedsParent };
}
