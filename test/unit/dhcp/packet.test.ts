import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  MessageType, Opt, decodeClasslessRoutes, decodeDhcp, decodeDomainSearch, encodeClasslessRoutes, encodeDhcp,
  encodeDomainSearch, chaddrFromMac, u8, BOOTREPLY,
} from "../../../metadata-server/dhcp/packet.ts";
import { clientPacket } from "./client-packets.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fromHex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

// A DISCOVER from 02:00:00:00:00:10 asking for options 1, 3 and 26, written out by hand from
// RFC 2131 figure 1 so the encoder is checked against bytes it did not produce.
const GOLDEN_DISCOVER =
  "01010600" + "12345678" + "0000" + "0000" + "00000000".repeat(4) +
  "020000000010" + "00".repeat(10) + "00".repeat(64) + "00".repeat(128) + "63825363" +
  "350101" + "3703" + "01031a" + "ff";

describe("DHCP packet codec", () => {
  it("encodes a DISCOVER to the hand-written golden bytes, padded to 300", () => {
    const bytes = clientPacket({ type: MessageType.DISCOVER, mac: "02:00:00:00:00:10", prl: [1, 3, 26] });
    expect(bytes.length).toBe(300);
    expect(hex(bytes)).toBe(GOLDEN_DISCOVER + "00".repeat(300 - GOLDEN_DISCOVER.length / 2));
  });

  it("decodes the golden DISCOVER field by field", () => {
    const r = decodeDhcp(fromHex(GOLDEN_DISCOVER));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.packet.op).toBe(1);
    expect(r.packet.xid).toBe(0x12345678);
    expect(r.packet.messageType).toBe(MessageType.DISCOVER);
    expect(Array.from(r.packet.options.get(Opt.PARAMETER_REQUEST_LIST)!)).toEqual([1, 3, 26]);
    expect(r.packet.ciaddr).toBe("0.0.0.0");
  });

  it("round-trips every header field and option", () => {
    const bytes = encodeDhcp({
      op: BOOTREPLY, xid: 0xdeadbeef, secs: 7, flags: 0x8000, ciaddr: "192.0.2.3", yiaddr: "192.0.2.4",
      siaddr: "192.0.2.5", giaddr: "192.0.2.6", hops: 2, chaddr: chaddrFromMac("02:aa:bb:cc:dd:ee"),
      options: [{ code: Opt.MESSAGE_TYPE, data: u8(5) }, { code: 224, data: new Uint8Array(600).fill(7) }],
    });
    const r = decodeDhcp(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.packet).toMatchObject({ op: 2, xid: 0xdeadbeef, secs: 7, flags: 0x8000, ciaddr: "192.0.2.3", yiaddr: "192.0.2.4", siaddr: "192.0.2.5", giaddr: "192.0.2.6", hops: 2 });
    // RFC 3396: a 600-byte value is split into 255+255+90 and concatenated again on decode.
    expect(r.packet.options.get(224)!.length).toBe(600);
  });

  it.each([
    ["short", new Uint8Array(100)],
    ["bad-cookie", (() => { const b = clientPacket({ type: 1, mac: "02:00:00:00:00:01" }); b[236] = 0; return b; })()],
    ["bad-op", (() => { const b = clientPacket({ type: 1, mac: "02:00:00:00:00:01" }); b[0] = 3; return b; })()],
    ["bad-hlen", (() => { const b = clientPacket({ type: 1, mac: "02:00:00:00:00:01" }); b[2] = 17; return b; })()],
    ["missing-end", (() => { const b = clientPacket({ type: 1, mac: "02:00:00:00:00:01" }); b[243] = 0; return b; })()],
    ["truncated-option", fromHex(GOLDEN_DISCOVER.slice(0, -2) + "3710")],
    ["no-message-type", fromHex(GOLDEN_DISCOVER.replace("63825363350101", "63825363000000"))],
    ["bad-message-type", fromHex(GOLDEN_DISCOVER.replace("63825363350101", "63825363350109"))],
    ["bad-option-length", fromHex(GOLDEN_DISCOVER.replace("ff", "3203c00002ff"))],
    ["overload-unsupported", fromHex(GOLDEN_DISCOVER.replace("ff", "340101ff"))],
  ])("reports %s", (code, bytes) => {
    const r = decodeDhcp(bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(code);
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (b) => {
      const r = decodeDhcp(b);
      expect(typeof r.ok).toBe("boolean");
    }), { numRuns: 2000 });
  });

  it("never throws on mutated valid packets", () => {
    const base = clientPacket({ type: MessageType.REQUEST, mac: "02:00:00:00:00:10", requested: "192.0.2.10", serverId: "192.0.2.1", clientId: fromHex("01020000000010"), prl: [1, 3, 6, 26, 121] });
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.nat(base.length), (edits, cut) => {
      const b = base.slice(0, Math.max(cut, 200));
      for (const [at, v] of edits) if (at < b.length) b[at] = v;
      decodeDhcp(b);
    }), { numRuns: 2000 });
  });
});

describe("option 121 (RFC 3442)", () => {
  // The destination descriptors of RFC 3442 section 3's table, each followed by router 10.0.0.1.
  const examples: [string, string][] = [
    ["0.0.0.0/0", "00"],
    ["10.0.0.0/8", "080a"],
    ["10.0.0.0/24", "180a0000"],
    ["10.17.0.0/16", "100a11"],
    ["10.27.129.0/24", "180a1b81"],
    ["10.229.0.128/25", "190ae50080"],
    ["10.198.122.47/32", "200ac67a2f"],
  ];
  it.each(examples)("encodes %s as descriptor %s", (to, descriptor) => {
    const enc = encodeClasslessRoutes([{ to, via: "10.0.0.1" }]);
    expect("error" in enc).toBe(false);
    expect(hex(enc as Uint8Array)).toBe(descriptor + "0a000001");
    expect(decodeClasslessRoutes(enc as Uint8Array)).toEqual([{ to, via: "10.0.0.1" }]);
  });

  it("encodes a list in order and rejects garbage", () => {
    const enc = encodeClasslessRoutes([{ to: "198.51.100.0/24", via: "192.0.2.254" }, { to: "0.0.0.0/0", via: "192.0.2.1" }]);
    expect(hex(enc as Uint8Array)).toBe("18c63364c00002fe" + "00c0000201");
    expect(encodeClasslessRoutes([{ to: "2001:db8::/32", via: "192.0.2.1" }])).toHaveProperty("error");
    expect(decodeClasslessRoutes(fromHex("21"))).toHaveProperty("error");
    expect(decodeClasslessRoutes(fromHex("18c63364c000"))).toHaveProperty("error");
  });
});

describe("option 119 (RFC 3397)", () => {
  it("matches the RFC 3397 section 2 example, with the compression pointer", () => {
    const enc = encodeDomainSearch(["eng.apple.com.", "marketing.apple.com."]) as Uint8Array;
    const expected = "03656e67056170706c6503636f6d00" + "096d61726b6574696e67c004";
    expect(hex(enc)).toBe(expected);
    expect(enc.length).toBe(27);
    expect(decodeDomainSearch(enc)).toEqual(["eng.apple.com", "marketing.apple.com"]);
  });

  it("round-trips arbitrary lists and rejects loops", () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,10}$/);
    fc.assert(fc.property(fc.array(fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join(".")), { maxLength: 6 }), (names) => {
      const enc = encodeDomainSearch(names) as Uint8Array;
      expect(decodeDomainSearch(enc)).toEqual(names);
    }), { numRuns: 300 });
    expect(decodeDomainSearch(fromHex("c000"))).toHaveProperty("error");
    expect(decodeDomainSearch(fromHex("03616263"))).toHaveProperty("error");
  });
});
