import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideNetworkMtu, encapsulationOverhead, hostPathMtu } from "../../../metadata-server/model/mtu.ts";
import type { HostLink } from "../../../metadata-server/model/types.ts";

const base = { name: "n", type: "bridge" as const, encapsulation: "none" as const, hasIpv6: false, underlay: { mtu: 1500, family: "ipv4" as const, source: "test" }, hostPaths: [] };

describe("network MTU rules", () => {
  it("defaults to 1500 and says so", () => {
    const { mtu, problems } = decideNetworkMtu(base);
    expect(mtu.value).toBe(1500);
    expect(mtu.because[0]).toMatch(/default of 1500/);
    expect(problems).toEqual([]);
  });
  it("gives oVirt's 1442 for GENEVE over a 1500 IPv4 underlay, explaining the 58 bytes", () => {
    const { mtu } = decideNetworkMtu({ ...base, type: "ovn", encapsulation: "geneve" });
    expect(mtu.value).toBe(1442);
    expect(mtu.because[0]).toBe("network n is an OVN overlay over GENEVE: 1500 (test) - 58 (20 IPv4 + 8 UDP + 8 GENEVE + 8 OVN option + 14 inner Ethernet) = 1442");
  });
  it("charges 20 more bytes for an IPv6 underlay and 8 fewer for VXLAN", () => {
    expect(encapsulationOverhead("geneve", "ipv6").bytes).toBe(78);
    expect(encapsulationOverhead("vxlan", "ipv4").bytes).toBe(50);
    expect(encapsulationOverhead("vxlan", "ipv6").bytes).toBe(70);
  });
  it("lowers the default to fit a host path but never silently lowers an explicit MTU", () => {
    const path = { host: "hv", link: "br0", mtu: 1400, because: ["on host hv the path is br0 (bridge, MTU 1400)"] };
    expect(decideNetworkMtu({ ...base, hostPaths: [path] }).mtu.value).toBe(1400);
    const explicit = decideNetworkMtu({ ...base, explicitMtu: 1500, hostPaths: [path] });
    expect(explicit.mtu.value).toBe(1500);
    expect(explicit.problems.map((p) => p.field)).toEqual(["host"]);
  });
  it("refuses MTUs below 68, below 1280 with IPv6, and above 65535", () => {
    expect(decideNetworkMtu({ ...base, explicitMtu: 67 }).problems).toHaveLength(1);
    expect(decideNetworkMtu({ ...base, explicitMtu: 68 }).problems).toHaveLength(0);
    expect(decideNetworkMtu({ ...base, explicitMtu: 1279, hasIpv6: true }).problems).toHaveLength(1);
    expect(decideNetworkMtu({ ...base, explicitMtu: 1280, hasIpv6: true }).problems).toHaveLength(0);
    expect(decideNetworkMtu({ ...base, explicitMtu: 65536 }).problems).toHaveLength(1);
  });
});

/** Random host topologies: NICs, bonds over NICs, VLANs over either, bridges over anything. */
const topology = fc
  .array(fc.integer({ min: 576, max: 9216 }), { minLength: 1, maxLength: 4 })
  .chain((nicMtus) => {
    const nics: HostLink[] = nicMtus.map((mtu, i) => ({ name: `eno${i}`, type: "nic", mtu }));
    return fc.record({
      bondMtu: fc.integer({ min: 576, max: 9216 }),
      vlanMtu: fc.integer({ min: 576, max: 9216 }),
      bridgeMtu: fc.integer({ min: 576, max: 9216 }),
      useBond: fc.boolean(),
    }).map(({ bondMtu, vlanMtu, bridgeMtu, useBond }) => {
      const links: HostLink[] = [...nics];
      const lower = useBond ? "bond0" : "eno0";
      if (useBond) links.push({ name: "bond0", type: "bond", mtu: bondMtu, members: nics.map((n) => n.name) });
      links.push({ name: `${lower}.10`, type: "vlan", mtu: vlanMtu, parent: lower, vlan: 10 });
      links.push({ name: "br0", type: "bridge", mtu: bridgeMtu, members: [`${lower}.10`] });
      return links;
    });
  });

describe("property: the host path MTU never exceeds any layer below it", () => {
  it("holds for random NIC/bond/VLAN/bridge stacks", () => {
    fc.assert(
      fc.property(topology, (links) => {
        const path = hostPathMtu("hv", links, "br0")!;
        // Everything under br0 is on the path: its VLAN, that VLAN's parent, and the parent's members.
        const vlan = links.find((l) => l.type === "vlan")!;
        const under = [links.find((l) => l.name === "br0")!, vlan, links.find((l) => l.name === vlan.parent)!];
        const bond = links.find((l) => l.type === "bond");
        if (bond && vlan.parent === "bond0") under.push(...links.filter((l) => bond.members!.includes(l.name)));
        for (const layer of under) expect(path.mtu).toBeLessThanOrEqual(layer.mtu);
        expect(under.some((l) => l.mtu === path.mtu)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
  it("and a network MTU decided over such a path fits it, or is reported impossible", () => {
    fc.assert(
      fc.property(topology, fc.option(fc.integer({ min: 68, max: 9216 }), { nil: undefined }), (links, explicit) => {
        const path = hostPathMtu("hv", links, "br0")!;
        const { mtu, problems } = decideNetworkMtu({ ...base, explicitMtu: explicit, hostPaths: [path] });
        if (problems.length === 0) expect(mtu.value).toBeLessThanOrEqual(path.mtu);
        else expect(mtu.value).toBeGreaterThan(path.mtu);
      }),
      { numRuns: 300 },
    );
  });
});
