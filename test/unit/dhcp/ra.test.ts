import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildDhcpPlan } from "../../../metadata-server/dhcp/plan.ts";
import { decodeRa, decodeRs, encodeRa, encodeRs } from "../../../metadata-server/dhcp/ra.ts";
import { site } from "./fixtures.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("router advertisements", () => {
  const ra = buildDhcpPlan(site(1442)).networks[0]!.ipv6!.ra!;

  it("encodes header, source link-layer address, MTU and prefix to RFC 4861 bytes", () => {
    const b = encodeRa({ ...ra, rdnss: [], dnssl: [] }, { sourceMac: "02:00:00:00:00:01" });
    expect(hex(b)).toBe(
      "86000000" + "40" + "00" + "0708" + "00000000" + "00000000" + // type 134, hop limit 64, M=O=0, lifetime 1800
      "0101020000000001" +                                          // source link-layer address
      "0501" + "0000" + "000005a2" +                                 // MTU 1442
      "0304" + "40" + "c0" + "00278d00" + "00093a80" + "00000000" +  // /64, L+A, 30 d, 7 d
      "20010db8000100000000000000000000",
    );
  });

  it("round-trips RDNSS and DNSSL", () => {
    const d = decodeRa(encodeRa(ra, { sourceMac: "02:00:00:00:00:01" }));
    expect("error" in d).toBe(false);
    if ("error" in d) return;
    expect(d.mtu).toBe(1442);
    expect(d.sourceMac).toBe("02:00:00:00:00:01");
    expect(d.rdnss).toEqual([{ lifetime: 1800, servers: ["2001:db8:1::53"] }]);
    expect(d.dnssl).toEqual([{ lifetime: 1800, domains: ["example.test", "lab.example.test"] }]);
    expect(d.prefixes[0]).toMatchObject({ prefix: "2001:db8:1::", prefixLength: 64, onLink: true, autonomous: true });
    expect(encodeRa(ra).length % 8).toBe(0);
  });

  it("sets M and O for stateful DHCPv6 and zero lifetime when ceasing", () => {
    const s = site();
    s.networks[0]!.ipv6!.mode = "dhcpv6-stateful";
    const d = decodeRa(encodeRa(buildDhcpPlan(s).networks[0]!.ipv6!.ra!, { ceasing: true }));
    expect(d).toMatchObject({ managed: true, other: true, routerLifetime: 0 });
  });

  it("never puts an MTU below 1280 on the wire, even if a plan carries one", () => {
    const d = decodeRa(encodeRa({ ...ra, mtu: 1200 }));
    expect("error" in d ? d : d.mtu).toBeUndefined();
  });

  it("decodes router solicitations and rejects bad ones", () => {
    expect(decodeRs(encodeRs("02:00:00:00:00:10"))).toEqual({ sourceMac: "02:00:00:00:00:10" });
    expect(decodeRs(encodeRs())).toEqual({});
    expect(decodeRs(Uint8Array.of(133, 0, 0, 0, 0, 0, 0, 0, 1, 0))).toHaveProperty("error", "bad-option");
    expect(decodeRs(Uint8Array.of(134, 0, 0, 0, 0, 0, 0, 0))).toHaveProperty("error", "wrong-type");
    expect(decodeRs(Uint8Array.of(133, 1, 0, 0, 0, 0, 0, 0))).toHaveProperty("error", "bad-code");
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      const withType = b.length ? Uint8Array.from([133 + (b[0]! & 1), 0, ...b.subarray(1)]) : b;
      decodeRs(withType);
      decodeRa(withType);
    }), { numRuns: 2000 });
  });
});
