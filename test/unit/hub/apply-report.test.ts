// What one VM's agent session may hold: a report that would pass a limit changes nothing.
import { describe, expect, it } from "vitest";
import { applyReport } from "../../../metadata-server/hub/agent-hub.ts";

const nic = (name: string, addresses = 1) => ({ name, mac: "02:00:00:00:00:01", operstate: "up", mtu: 1500, addresses: Array.from({ length: addresses }, (_, i) => `10.0.0.${i}/8`) });
const limits = { maxInterfacesPerVm: 4, maxAddressesPerVm: 6 };

describe("applyReport", () => {
  it("upserts and removes on a partial report, replaces on a full one", () => {
    const a = applyReport(new Map(), { full: true, interfaces: [nic("a"), nic("b")] }, limits);
    if (!("interfaces" in a)) throw new Error("refused");
    const b = applyReport(a.interfaces, { full: false, interfaces: [nic("c")], removed: ["a"] }, limits);
    if (!("interfaces" in b)) throw new Error("refused");
    expect([...b.interfaces.keys()]).toEqual(["b", "c"]);
    const c = applyReport(b.interfaces, { full: true, interfaces: [nic("z")] }, limits);
    expect("interfaces" in c && [...c.interfaces.keys()]).toEqual(["z"]);
  });

  it("refuses a report that would take the VM past maxInterfacesPerVm, leaving the known map as it was", () => {
    const known = new Map([["a", nic("a")], ["b", nic("b")], ["c", nic("c")]]);
    const r = applyReport(known, { full: false, interfaces: [nic("d"), nic("e")] }, limits);
    expect(r).toEqual({ refused: expect.stringMatching(/5 interfaces; a VM may have 4 \(maxInterfacesPerVm\)/) });
    expect([...known.keys()]).toEqual(["a", "b", "c"]);
    // Replacing a name already known does not grow the count.
    expect("interfaces" in applyReport(known, { full: false, interfaces: [nic("a"), nic("d")] }, limits)).toBe(true);
  });

  it("refuses a report that would take the VM past maxAddressesPerVm", () => {
    const r = applyReport(new Map([["a", nic("a", 4)]]), { full: false, interfaces: [nic("b", 3)] }, limits);
    expect(r).toEqual({ refused: expect.stringMatching(/7 addresses; a VM may have 6 \(maxAddressesPerVm\)/) });
    expect("interfaces" in applyReport(new Map([["a", nic("a", 4)]]), { full: false, interfaces: [nic("a", 3), nic("b", 3)] }, limits)).toBe(true);
  });
});
