// The MTU consistency check on a site where every layer agrees, then with each layer in turn
// made to disagree: the verdict flips, and the words name the layer and what to do.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSite } from "../../../metadata-server/inventory/load.ts";
import { checkMtu, type MtuCheckInput } from "../../../metadata-server/model/consistency.ts";
import type { HostLink, ResolvedSite } from "../../../metadata-server/model/types.ts";
import type { ObservedGuest } from "../../../metadata-server/observe/types.ts";

const text = readFileSync("test/fixtures/inventories/mtu-check.yaml", "utf8");
// vm-b's network has MTU 500, which dhclient would ignore: leave vm-b out of the all-agree case.
const agreeing = parseSite(text.replace(/  - id: 00000000-0000-4000-8000-000000000502[\s\S]*$/, ""), "a.yaml", {}).site!;
const site = parseSite(text, "s.yaml", {}).site!;
const VM_A = "00000000-0000-4000-8000-000000000501";

function guest(overrides: Partial<Record<string, { mtu?: number; ipv6Mtu?: number }>> = {}, drop: string[] = []): ObservedGuest {
  const ifaces = [
    { name: "eth0", mac: "52:54:00:05:00:01", mtu: 1500, addresses: [] },
    { name: "eth1", mac: "52:54:00:05:00:02", mtu: 1442, addresses: [] },
    { name: "eth2", mac: "52:54:00:05:00:03", mtu: 1400, addresses: [] },
  ].filter((i) => !drop.includes(i.name)).map((i) => ({ ...i, ...overrides[i.name] }));
  return { vmId: VM_A, source: "test", at: "2026-11-24T00:00:00Z", interfaces: ifaces };
}

const run = (s: ResolvedSite, extra: Partial<MtuCheckInput> = {}) => checkMtu({ site: s, guests: new Map([[VM_A, guest()]]), ...extra });
const finding = (r: ReturnType<typeof checkMtu>, vm: string, nic: string) => r.vms.find((v) => v.vmName === vm)!.interfaces.find((i) => i.name === nic)!;
const layer = (r: ReturnType<typeof checkMtu>, vm: string, nic: string, l: string) => finding(r, vm, nic).layers.find((x) => x.layer === l)!;

describe("mtu consistency", () => {
  it("calls a site consistent when every layer agrees, with the guest reporting", () => {
    const r = run(agreeing);
    expect(r.summary).toEqual({ interfaces: 3, inconsistent: 0, guestsReporting: 1 });
    expect(layer(r, "vm-a", "eth1", "network").mtu).toBe(1442);
    expect(layer(r, "vm-a", "eth1", "host")).toMatchObject({ status: "ok", mtu: 1500 });
    expect(layer(r, "vm-a", "eth0", "cloud-init").status).toBe("not-used"); // DHCP + RA deliver it
    expect(layer(r, "vm-a", "eth2", "cloud-init")).toMatchObject({ status: "ok", mtu: 1400 }); // mtuPolicy static
    expect(layer(r, "vm-a", "eth0", "dhcp")).toMatchObject({ status: "ok", mtu: 1500 });
    expect(layer(r, "vm-a", "eth0", "ra")).toMatchObject({ status: "ok", mtu: 1500 });
    expect(layer(r, "vm-a", "eth1", "guest")).toMatchObject({ status: "ok", mtu: 1442 });
  });

  it("network layer: a changed network MTU shows up against everything that still carries the old one", () => {
    const changed = parseSite(text.replace("    mtu: 1400\n    mtuPolicy: static", "    mtu: 1450\n    mtuPolicy: static"), "c.yaml", {}).site!;
    const r = run(changed);
    const f = finding(r, "vm-a", "eth2");
    expect(f.verdict).toBe("inconsistent");
    expect(f.expected).toBe(1450);
    expect(f.problems.join("\n")).toMatch(/the guest has MTU 1400, the network pinned has 1450.*cloud-init pinned an MTU at the first boot/);
  });

  it("host layer: a host path smaller than the network, as seen on the host", () => {
    const links: HostLink[] = [{ name: "eno1", type: "nic", mtu: 1400 }, { name: "br-lan", type: "bridge", members: ["eno1"], mtu: 1500 }];
    const r = run(agreeing, { hostLinks: new Map([["hv1", links]]) });
    expect(finding(r, "vm-a", "eth0").verdict).toBe("inconsistent");
    expect(layer(r, "vm-a", "eth0", "host")).toMatchObject({ status: "mismatch", mtu: 1400 });
    expect(layer(r, "vm-a", "eth0", "host").detail).toMatch(/allows at most 1400 \(as seen on the host\), but network lan needs 1500.*Raise the MTU along that path to at least 1500/);
    // The overlay rides the same path as its tunnel underlay: 1442 + 58 = 1500 does not fit 1400 either.
    expect(layer(r, "vm-a", "eth1", "host").detail).toMatch(/tunnels for overlay need 1500 \(1442 \+ 58 of GENEVE\)/);
    // br-pinned is missing from what the host shows.
    expect(layer(r, "vm-a", "eth2", "host").detail).toMatch(/host hv1 has no link br-pinned/);
  });

  it("cloud-init layer: the seed the VM booted with pins an MTU the network no longer has", () => {
    const seeds = new Map([[VM_A, new Map<string, number | null>([["52:54:00:05:00:01", null], ["52:54:00:05:00:03", 9000]])]]);
    const r = run(agreeing, { seeds });
    expect(layer(r, "vm-a", "eth2", "cloud-init")).toMatchObject({ status: "mismatch", mtu: 9000 });
    expect(layer(r, "vm-a", "eth2", "cloud-init").detail).toMatch(/the seed gave eth2 MTU 9000, but network pinned now has 1400/);
    expect(layer(r, "vm-a", "eth0", "cloud-init").status).toBe("not-used");
  });

  it("dhcp layer: an option-26 value dhclient ignores", () => {
    const r = checkMtu({ site });
    expect(finding(r, "vm-b", "eth0").verdict).toBe("inconsistent");
    expect(layer(r, "vm-b", "eth0", "dhcp").detail).toMatch(/ISC dhclient ignores values of 576 and below: pin the MTU in cloud-init \(mtuPolicy: static\)/);
  });

  it("ra layer: the guest's IPv6 MTU came from another router's advertisement", () => {
    const r = run(agreeing, { guests: new Map([[VM_A, guest({ eth0: { ipv6Mtu: 1280 } })]]) });
    expect(layer(r, "vm-a", "eth0", "ra")).toMatchObject({ status: "mismatch", mtu: 1280 });
    expect(layer(r, "vm-a", "eth0", "guest").status).toBe("ok");
  });

  it("guest layer: a bigger MTU than the overlay carries, and a vNIC the guest does not show", () => {
    const r = run(agreeing, { guests: new Map([[VM_A, guest({ eth1: { mtu: 1500 } }, ["eth2"])]]) });
    expect(layer(r, "vm-a", "eth1", "guest").detail).toMatch(/the guest has MTU 1500, the network overlay has 1442; it sends frames larger than overlay carries.*ISC dhclient .* only on a new binding, so restart it \(ifdown\/ifup eth1\)/);
    expect(layer(r, "vm-a", "eth2", "guest").detail).toMatch(/reports no interface with MAC 52:54:00:05:00:03/);
    expect(r.summary.inconsistent).toBe(2);
  });

  it("without a guest report the guest layer is unknown, not a failure", () => {
    const r = checkMtu({ site: agreeing });
    expect(layer(r, "vm-a", "eth0", "guest").status).toBe("unknown");
    expect(r.summary.inconsistent).toBe(0);
  });
});
