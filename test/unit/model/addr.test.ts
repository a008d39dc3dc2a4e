import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonicalIp, cidrContains, eui64Address, formatIpv4, formatIpv6, formatMac, parseCidr, parseIp, parseIpv4, parseIpv6, parseMac, type Cidr,
} from "../../../metadata-server/model/addr.ts";

describe("IPv4", () => {
  it("parses and formats dotted quads, refusing ambiguous forms", () => {
    expect(parseIpv4("192.0.2.10")).toBe(0xc000020a);
    expect(formatIpv4(0xc000020a)).toBe("192.0.2.10");
    for (const bad of ["192.0.2", "192.0.2.256", "192.0.2.01", "a.b.c.d", " 192.0.2.1", "192.0.2.1/24"]) expect(parseIpv4(bad)).toBeUndefined();
  });
  it("round-trips every address", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(n)) === n));
  });
});

describe("IPv6", () => {
  it("formats the RFC 5952 canonical text", () => {
    expect(canonicalIp("2001:0DB8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(canonicalIp("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1"); // first longest run
    expect(canonicalIp("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1"); // a single 0 is not "::"
    expect(canonicalIp("::")).toBe("::");
    expect(canonicalIp("::ffff:192.0.2.1")).toBe("::ffff:c000:201");
  });
  it("refuses malformed text", () => {
    for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "g::1", ":::"]) expect(parseIpv6(bad)).toBeUndefined();
  });
  it("round-trips every address", () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (n) => parseIpv6(formatIpv6(n)) === n));
  });
});

describe("CIDR", () => {
  it("parses blocks and refuses host bits", () => {
    const c = parseCidr("198.51.100.0/24") as Cidr;
    expect(c.prefixLength).toBe(24);
    expect(cidrContains(c, parseIp("198.51.100.255")!)).toBe(true);
    expect(cidrContains(c, parseIp("198.51.101.0")!)).toBe(false);
    expect(parseCidr("198.51.100.1/24")).toEqual({ error: "has host bits set (the network is 198.51.100.0/24)" });
    expect(parseCidr("2001:db8::/129")).toEqual({ error: "has a prefix length over 128" });
  });
});

describe("MAC and EUI-64", () => {
  it("normalises MACs to lowercase colon form", () => {
    expect(formatMac(parseMac("52-54-00-AB-cd-EF")!)).toBe("52:54:00:ab:cd:ef");
    expect(parseMac("52:54:00:ab:cd")).toBeUndefined();
  });
  it("derives the modified EUI-64 address the Linux kernel configures for SLAAC", () => {
    // RFC 4291 appendix A: flip the U/L bit, insert ff:fe in the middle.
    const prefix = parseCidr("2001:db8:1::/64") as Cidr;
    expect(formatIpv6(eui64Address(prefix, parseMac("52:54:00:12:34:56")!))).toBe("2001:db8:1:0:5054:ff:fe12:3456");
    expect(formatIpv6(eui64Address(prefix, parseMac("02:00:00:00:00:10")!))).toBe("2001:db8:1::ff:fe00:10");
  });
});
