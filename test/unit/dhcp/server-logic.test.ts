import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildDhcpPlan } from "../../../metadata-server/dhcp/plan.ts";
import {
  MALFORMED_REASONS, compileNetwork, handleDatagram, type HandleContext, type Outcome, type ServedNetwork,
} from "../../../metadata-server/dhcp/server-logic.ts";
import { LeaseTable } from "../../../metadata-server/dhcp/leases.ts";
import {
  BOOTREPLY, MessageType, Opt, chaddrFromMac, decodeClasslessRoutes, decodeDhcp, encodeDhcp, ipv4Bytes, readU16Value, readU32Value, u8,
  type DhcpPacket,
} from "../../../metadata-server/dhcp/packet.ts";
import { clientPacket } from "./client-packets.ts";
import { LAN_ADDRESS, LAN_MAC, SECOND_MAC, SERVER_ID, STATIC_MAC, site } from "./fixtures.ts";

const NOW = 1_700_000_000;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function setup(mtu = 1442) {
  const plan = buildDhcpPlan(site(mtu));
  const all = plan.networks.map(compileNetwork).filter((n): n is ServedNetwork => n !== undefined);
  const leases = new LeaseTable();
  const ctx = (local: string, now = NOW): HandleContext => ({ local: all.find((n) => n.name === local), all, serverId: SERVER_ID, leases, now });
  return { all, leases, ctx };
}

function replyOf(o: Outcome): DhcpPacket & { outcome: Extract<Outcome, { kind: "reply" }> } {
  if (o.kind !== "reply") throw new Error(`expected a reply, got ${JSON.stringify(o)}`);
  const d = decodeDhcp(o.bytes);
  if (!d.ok) throw new Error(`reply does not decode: ${d.error.code}`);
  return Object.assign(d.packet, { outcome: o });
}

const ip = (p: DhcpPacket, code: number) => { const v = p.options.get(code); return v && Array.from(v).join("."); };

describe("server logic: reserved addresses", () => {
  const { ctx } = setup();

  it("OFFERs the reservation with every configured option although none was requested", () => {
    const o = handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC }), ctx("lan"));
    const p = replyOf(o);
    expect(p.op).toBe(BOOTREPLY);
    expect(p.messageType).toBe(MessageType.OFFER);
    expect(p.yiaddr).toBe(LAN_ADDRESS);
    expect(p.xid).toBe(0x12345678);
    expect([...p.options.keys()].sort((a, b) => a - b)).toEqual([1, 3, 6, 12, 15, 26, 51, 53, 54, 58, 59, 119, 121]);
    expect(ip(p, Opt.SERVER_ID)).toBe(SERVER_ID);
    expect(readU16Value(p.options.get(Opt.INTERFACE_MTU)!)).toBe(1442);
    expect(readU32Value(p.options.get(Opt.LEASE_TIME)!)).toBe(3600);
    expect(new TextDecoder().decode(p.options.get(Opt.HOST_NAME))).toBe("web1");
    expect(decodeClasslessRoutes(p.options.get(Opt.CLASSLESS_ROUTES)!)).toEqual([
      { to: "198.51.100.0/24", via: "192.0.2.254" }, { to: "0.0.0.0/0", via: "192.0.2.1" },
    ]);
    expect(o.kind === "reply" && o.to).toEqual({ address: "255.255.255.255", port: 68, broadcast: true });
  });

  it("produces the golden OFFER bytes", () => {
    const o = handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC, prl: [1, 3, 26] }), ctx("lan"));
    const header = "02010600" + "12345678" + "0000" + "0000" + "00000000" + "c000020a" + "00000000" + "00000000" +
      "020000000010" + "00".repeat(10) + "00".repeat(192) + "63825363";
    const options =
      "350102" + "3604c0000201" + "330400000e10" + "3a0400000708" + "3b0400000c4e" + "0104ffffff00" + "0304c0000201" +
      "0604c0000235" + "0c04" + "77656231" + "0f0c" + "6578616d706c652e74657374" + "1a0205a2" +
      "7714" + "076578616d706c650474657374" + "00" + "036c6162c000" +
      "790d" + "18c63364c00002fe" + "00c0000201" + "ff";
    expect(o.kind).toBe("reply");
    expect(hex((o as { bytes: Uint8Array }).bytes)).toBe(header + options);
  });

  it("ACKs a SELECTING REQUEST and echoes option 61", () => {
    const clientId = Uint8Array.of(1, 2, 0, 0, 0, 0, 0x10);
    const p = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, requested: LAN_ADDRESS, serverId: SERVER_ID, clientId }), ctx("lan")));
    expect(p.messageType).toBe(MessageType.ACK);
    expect(p.yiaddr).toBe(LAN_ADDRESS);
    expect(Array.from(p.options.get(Opt.CLIENT_ID)!)).toEqual(Array.from(clientId));
    expect(p.outcome.state).toBe("selecting");
  });

  it("stays silent when the client selected another server", () => {
    const o = handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, requested: LAN_ADDRESS, serverId: "192.0.2.99" }), ctx("lan"));
    expect(o).toMatchObject({ kind: "drop", reason: "other-server" });
  });

  it("ACKs INIT-REBOOT with the right address and NAKs a wrong one, broadcast", () => {
    const ok = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, requested: LAN_ADDRESS }), ctx("lan")));
    expect(ok.messageType).toBe(MessageType.ACK);
    expect(ok.outcome.state).toBe("init-reboot");
    const bad = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, requested: "192.0.2.77" }), ctx("lan")));
    expect(bad.messageType).toBe(MessageType.NAK);
    expect(bad.yiaddr).toBe("0.0.0.0");
    expect(ip(bad, Opt.SERVER_ID)).toBe(SERVER_ID);
    expect(bad.options.has(Opt.LEASE_TIME)).toBe(false);
    expect(bad.outcome.to).toEqual({ address: "255.255.255.255", port: 68, broadcast: true });
  });

  it("ACKs RENEW/REBIND by unicast to ciaddr, and NAKs a foreign ciaddr", () => {
    const p = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, ciaddr: LAN_ADDRESS }), ctx("lan")));
    expect(p.messageType).toBe(MessageType.ACK);
    expect(p.ciaddr).toBe(LAN_ADDRESS);
    expect(p.outcome.to).toEqual({ address: LAN_ADDRESS, port: 68, broadcast: false });
    expect(p.outcome.state).toBe("renew-rebind");
    const n = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, ciaddr: "192.0.2.200" }), ctx("lan")));
    expect(n.messageType).toBe(MessageType.NAK);
  });

  it("sends no default route on a NIC that does not carry it", () => {
    const p = replyOf(handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac: SECOND_MAC }), ctx("lan")));
    expect(p.options.has(Opt.ROUTER)).toBe(false);
    expect(decodeClasslessRoutes(p.options.get(Opt.CLASSLESS_ROUTES)!)).toEqual([{ to: "198.51.100.0/24", via: "192.0.2.254" }]);
  });

  it("answers INFORM without lease times, to ciaddr", () => {
    const p = replyOf(handleDatagram(clientPacket({ type: MessageType.INFORM, mac: LAN_MAC, ciaddr: LAN_ADDRESS }), ctx("lan")));
    expect(p.messageType).toBe(MessageType.ACK);
    expect(p.yiaddr).toBe("0.0.0.0");
    for (const code of [Opt.LEASE_TIME, Opt.RENEWAL_TIME, Opt.REBINDING_TIME]) expect(p.options.has(code)).toBe(false);
    expect(p.options.has(Opt.INTERFACE_MTU)).toBe(true);
    expect(p.outcome.to).toEqual({ address: LAN_ADDRESS, port: 68, broadcast: false });
  });

  it("logs DECLINE and RELEASE of a reservation without replying", () => {
    expect(handleDatagram(clientPacket({ type: MessageType.DECLINE, mac: LAN_MAC, requested: LAN_ADDRESS, serverId: SERVER_ID }), ctx("lan")))
      .toMatchObject({ kind: "silent", event: "decline", address: LAN_ADDRESS, effects: [] });
    expect(handleDatagram(clientPacket({ type: MessageType.RELEASE, mac: LAN_MAC, ciaddr: LAN_ADDRESS, serverId: SERVER_ID }), ctx("lan")))
      .toMatchObject({ kind: "silent", event: "release", address: LAN_ADDRESS });
  });

  it("ignores unknown and statically addressed MACs on a network without a range", () => {
    for (const mac of ["02:00:00:00:99:99", STATIC_MAC]) {
      expect(handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac }), ctx("lan"))).toMatchObject({ kind: "drop", reason: "unknown-client" });
    }
  });

  it("replies to giaddr for a relayed request, choosing the network by giaddr", () => {
    const o = handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC, giaddr: "192.0.2.254", hops: 1 }), ctx("pool"));
    const p = replyOf(o);
    expect(p.yiaddr).toBe(LAN_ADDRESS);
    expect(p.giaddr).toBe("192.0.2.254");
    expect(p.outcome.to).toEqual({ address: "192.0.2.254", port: 67, broadcast: false });
    const nak = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, giaddr: "192.0.2.254", requested: "192.0.2.99" }), ctx("pool")));
    expect(nak.messageType).toBe(MessageType.NAK);
    expect(nak.flags & 0x8000).toBe(0x8000);
    expect(nak.outcome.to.address).toBe("192.0.2.254");
    expect(handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC, giaddr: "203.0.113.1" }), ctx("lan")))
      .toMatchObject({ kind: "drop", reason: "unknown-relay-subnet" });
    expect(handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC, giaddr: "192.0.2.254", hops: 17 }), ctx("lan")))
      .toMatchObject({ kind: "drop", reason: "too-many-hops" });
  });

  it("pads short replies to 300 bytes", () => {
    const o = handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, requested: "192.0.2.77" }), ctx("lan"));
    expect(o.kind === "reply" && o.bytes.length).toBe(300);
  });

  it("serves a reloaded plan's new MTU at once", () => {
    const after = setup(9000);
    const p = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, ciaddr: LAN_ADDRESS }), after.ctx("lan")));
    expect(readU16Value(p.options.get(Opt.INTERFACE_MTU)!)).toBe(9000);
  });

  it("flags OFFER/ACK from another server id as rogue, but not our own", () => {
    const rogue = encodeDhcp({ op: BOOTREPLY, xid: 1, chaddr: chaddrFromMac(LAN_MAC), yiaddr: "192.0.2.50", options: [
      { code: Opt.MESSAGE_TYPE, data: u8(MessageType.OFFER) }, { code: Opt.SERVER_ID, data: ipv4Bytes(["192.0.2.66"]) }] });
    expect(handleDatagram(rogue, ctx("lan"))).toMatchObject({ kind: "drop", reason: "bootreply", rogueServerId: "192.0.2.66", rogueMessageType: MessageType.OFFER });
    const ours = encodeDhcp({ op: BOOTREPLY, xid: 1, chaddr: chaddrFromMac(LAN_MAC), options: [
      { code: Opt.MESSAGE_TYPE, data: u8(MessageType.ACK) }, { code: Opt.SERVER_ID, data: ipv4Bytes([SERVER_ID]) }] });
    expect(handleDatagram(ours, ctx("lan"))).not.toHaveProperty("rogueServerId");
  });

  it.each([
    ["bad-chaddr", clientPacket({ type: MessageType.DISCOVER, mac: "01:00:5e:00:00:01" })],
    ["bad-chaddr", clientPacket({ type: MessageType.DISCOVER, mac: "00:00:00:00:00:00" })],
    ["bad-client-id", clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC, clientId: Uint8Array.of(1) })],
    ["server-message-type", clientPacket({ type: MessageType.ACK, mac: LAN_MAC })],
    ["missing-requested-address", clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC })],
    ["missing-ciaddr", clientPacket({ type: MessageType.INFORM, mac: LAN_MAC })],
    ["bad-htype", (() => { const b = clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC }); b[1] = 6; return b; })()],
  ])("drops %s", (reason, bytes) => {
    expect(handleDatagram(bytes, ctx("lan"))).toMatchObject({ kind: "drop", reason });
  });
});

describe("server logic: dynamic range", () => {
  it("offers, binds, renews, releases and avoids declined addresses", () => {
    const { ctx, leases } = setup();
    const mac = "02:00:00:00:aa:01";
    const offer = replyOf(handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac }), ctx("pool")));
    const a = offer.yiaddr;
    expect(a).toMatch(/^198\.51\.100\.10[0-3]$/);
    expect(offer.options.has(Opt.HOST_NAME)).toBe(false);
    expect(readU16Value(offer.options.get(Opt.INTERFACE_MTU)!)).toBe(1500);
    leases.apply(offer.outcome.effects);
    expect(leases.byAddress("pool", a)?.state).toBe("offered");
    const ack = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac, requested: a, serverId: SERVER_ID }), ctx("pool")));
    expect(ack.messageType).toBe(MessageType.ACK);
    expect(leases.apply(ack.outcome.effects)).toBe(true);
    expect(leases.byAddress("pool", a)?.state).toBe("bound");
    // Another client asking for the same address is refused.
    const other = "02:00:00:00:aa:02";
    const stolen = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac: other, requested: a }), ctx("pool")));
    expect(stolen.messageType).toBe(MessageType.NAK);
    // Renewal keeps the address.
    const renew = replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac, ciaddr: a }), ctx("pool", NOW + 300)));
    expect(renew.messageType).toBe(MessageType.ACK);
    // DECLINE quarantines the address; the next DISCOVER gets another one.
    const dec = handleDatagram(clientPacket({ type: MessageType.DECLINE, mac, requested: a, serverId: SERVER_ID }), ctx("pool"));
    expect(dec.kind).toBe("silent");
    if (dec.kind === "silent") leases.apply(dec.effects);
    const again = replyOf(handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac }), ctx("pool")));
    expect(again.yiaddr).not.toBe(a);
    leases.apply(again.outcome.effects);
    const b = again.yiaddr;
    leases.apply(replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac, requested: b, serverId: SERVER_ID }), ctx("pool"))).outcome.effects);
    const rel = handleDatagram(clientPacket({ type: MessageType.RELEASE, mac, ciaddr: b, serverId: SERVER_ID }), ctx("pool"));
    expect(rel.kind).toBe("silent");
    expect(rel.kind === "silent" && leases.apply(rel.effects)).toBe(true);
    expect(leases.byAddress("pool", b)).toBeUndefined();
  });

  it("stops offering when the pool is exhausted", () => {
    const { ctx, leases } = setup();
    for (let i = 0; i < 4; i++) {
      const mac = `02:00:00:00:bb:0${i}`;
      const offer = replyOf(handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac }), ctx("pool")));
      leases.apply(replyOf(handleDatagram(clientPacket({ type: MessageType.REQUEST, mac, requested: offer.yiaddr, serverId: SERVER_ID }), ctx("pool"))).outcome.effects);
    }
    expect(leases.size).toBe(4);
    expect(handleDatagram(clientPacket({ type: MessageType.DISCOVER, mac: "02:00:00:00:bb:09" }), ctx("pool"))).toMatchObject({ kind: "drop", reason: "no-free-address" });
  });
});

describe("server logic: fuzzing", () => {
  const { ctx } = setup();
  it("never throws and never answers undecodable bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      const o = handleDatagram(b, ctx("lan"));
      if (!decodeDhcp(b).ok) expect(o.kind).toBe("drop");
    }), { numRuns: 2000 });
  });

  it("answers mutated requests only with well-formed replies, and never a malformed one", () => {
    const bases = [
      clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC, prl: [1, 3, 26] }),
      clientPacket({ type: MessageType.REQUEST, mac: LAN_MAC, requested: LAN_ADDRESS, serverId: SERVER_ID, clientId: Uint8Array.of(1, 2, 0, 0, 0, 0, 0x10) }),
      clientPacket({ type: MessageType.INFORM, mac: LAN_MAC, ciaddr: LAN_ADDRESS }),
    ];
    fc.assert(fc.property(
      fc.nat(bases.length - 1),
      fc.array(fc.tuple(fc.nat(299), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.nat(300),
      (which, edits, cut) => {
        const b = bases[which]!.slice(0, Math.max(cut, 230));
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        const o = handleDatagram(b, ctx("lan"));
        if (o.kind === "drop" && MALFORMED_REASONS.has(o.reason)) return;
        const d = decodeDhcp(b);
        if (!d.ok) {
          expect(o.kind).toBe("drop");
          return;
        }
        if (o.kind === "reply") {
          // A reply only goes to a request that is structurally sound.
          expect(d.packet.op).toBe(1);
          expect(d.packet.htype).toBe(1);
          expect(d.packet.hlen).toBe(6);
          const r = decodeDhcp(o.bytes);
          expect(r.ok).toBe(true);
          expect(o.bytes.length).toBeGreaterThanOrEqual(300);
          if (r.ok) expect(r.packet.options.has(Opt.SERVER_ID)).toBe(true);
        }
      },
    ), { numRuns: 2000 });
  });
});
