// The fuzz targets of `npm run bench -- fuzz`, briefly and from a fixed seed: the same code the
// long job runs, so CI keeps it working and catches what a short pass can.
import { describe, expect, it } from "vitest";
import { fuzzTargets, runFuzzTarget } from "../fuzz/targets.ts";

const CASES = 2000;
const SEED = 20240611;
const targets = await fuzzTargets();

describe("fuzz targets (short, seed-fixed pass)", () => {
  it("covers the framing parser, the DHCP and ND decoders and the inventory loader", () => {
    expect(targets.map((t) => t.covers).sort()).toEqual([
      "agent/protocol/framing.ts", "metadata-server/dhcp/dhcpv6.ts", "metadata-server/dhcp/packet.ts",
      "metadata-server/dhcp/ra.ts", "metadata-server/inventory/load.ts",
    ]);
  });

  it.each(targets.map((t) => [t.name, t] as const))("%s", (_name, target) => {
    const r = runFuzzTarget(target, CASES, SEED);
    expect(r.failure).toBeUndefined();
    expect(r.cases).toBe(CASES);
  }, 60_000);
});
