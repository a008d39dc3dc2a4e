// Protocol cases no stock client can be told to produce, sent by a raw UDP peer in the guest
// namespace to our server over a veth: INIT-REBOOT with a wrong address (NAK), unicast RENEW,
// INFORM, DECLINE, RELEASE, a relayed request (giaddr), unknown MACs, garbage, a rogue server's
// OFFER, and a dynamic lease that survives the server being killed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NetnsPair, mustRun, requirePrograms, waitFor } from "../../helpers/netns.ts";
import { site } from "../../unit/dhcp/fixtures.ts";
import { clientPacket } from "../../unit/dhcp/client-packets.ts";
import {
  BOOTREPLY, MessageType, Opt, chaddrFromMac, decodeDhcp, encodeDhcp, ipv4Bytes, readU16Value, u8, type DhcpPacket,
} from "../../../metadata-server/dhcp/packet.ts";
import { ServerProcess, probe, stateDir, udpCounter, writeJson, type ProbeReply } from "./clients.ts";

const MAC = "02:00:00:00:00:10";
const RESERVED = "192.0.2.10";
const SERVER = "192.0.2.1";

function decoded(replies: ProbeReply[]): (DhcpPacket & { from: string; port: number; length: number })[] {
  return replies.map((r) => {
    const bytes = Buffer.from(r.hex, "hex");
    const d = decodeDhcp(bytes);
    if (!d.ok) throw new Error(`undecodable reply ${r.hex}`);
    return Object.assign(d.packet, { from: r.from, port: r.port, length: bytes.length });
  });
}

describe("DHCP protocol over a real link", () => {
  const pair = new NetnsPair();
  const dir = stateDir("protocol");
  const leaseFile = join(dir, "leases.json");
  const sitePath = join(dir, "site.json");
  let server: ServerProcess;

  /** Sends one request and returns the server replies to it (same xid). */
  const send = async (bytes: Uint8Array, opts: { to?: string; fromPort?: number; listen?: number[]; waitMs?: number } = {}) => {
    const xid = Buffer.from(bytes).readUInt32BE(4);
    const replies = decoded(await probe(pair, {
      listen: opts.listen ?? [68],
      send: [{ bytes, to: opts.to ?? "255.255.255.255", port: 67, fromPort: opts.fromPort ?? 68 }],
      waitMs: opts.waitMs ?? 800,
    }));
    return replies.filter((p) => p.op === BOOTREPLY && p.xid === xid);
  };

  beforeAll(async () => {
    await requirePrograms(["ip"]);
    await pair.create({ mtu: 1500, guestMac: MAC, hostAddresses: ["192.0.2.1/24", "198.51.100.1/24", "2001:db8:1::1/64"] });
    // The guest side holds its reservation (for unicast RENEW/INFORM) and two relay addresses.
    for (const a of [`${RESERVED}/24`, "192.0.2.200/24", "198.51.100.2/24"]) await mustRun("ip", ["-n", pair.guestNs, "addr", "add", a, "dev", pair.guestIf]);
    writeJson(sitePath, site(1442));
    server = await ServerProcess.startJson(pair, sitePath, `${pair.hostIf}=lan`, ["--lease-file", leaseFile]);
  });

  afterAll(async () => {
    await pair.cleanup();
  });

  it("NAKs INIT-REBOOT with a wrong address, broadcast, with option 54, padded to 300 bytes", async () => {
    const r = await send(clientPacket({ type: MessageType.REQUEST, mac: MAC, xid: 101, requested: "192.0.2.77" }));
    expect(r).toHaveLength(1);
    expect(r[0]!.messageType).toBe(MessageType.NAK);
    expect(r[0]!.length).toBe(300);
    expect(Array.from(r[0]!.options.get(Opt.SERVER_ID)!).join(".")).toBe(SERVER);
    expect(await server.waitEvent("nak", (l) => l.to === "255.255.255.255")).toBeDefined();
  });

  it("ACKs INIT-REBOOT with the reserved address and echoes the client id", async () => {
    const r = await send(clientPacket({ type: MessageType.REQUEST, mac: MAC, xid: 102, requested: RESERVED, clientId: Uint8Array.of(1, 2, 0, 0, 0, 0, 0x10) }));
    expect(r.map((p) => p.messageType)).toEqual([MessageType.ACK]);
    expect(r[0]!.yiaddr).toBe(RESERVED);
    expect(Array.from(r[0]!.options.get(Opt.CLIENT_ID)!)).toEqual([1, 2, 0, 0, 0, 0, 0x10]);
    expect(readU16Value(r[0]!.options.get(Opt.INTERFACE_MTU)!)).toBe(1442);
  });

  it("ACKs a unicast RENEW by unicast to ciaddr", async () => {
    const r = await send(clientPacket({ type: MessageType.REQUEST, mac: MAC, xid: 103, ciaddr: RESERVED }), { to: SERVER });
    expect(r.map((p) => p.messageType)).toEqual([MessageType.ACK]);
    expect(r[0]!.from).toBe(SERVER);
    expect(r[0]!.ciaddr).toBe(RESERVED);
    expect(await server.waitEvent("ack", (l) => l.state === "renew-rebind" && l.to === RESERVED)).toBeDefined();
  });

  it("answers INFORM with configuration but no lease", async () => {
    const r = await send(clientPacket({ type: MessageType.INFORM, mac: MAC, xid: 104, ciaddr: RESERVED }), { to: SERVER });
    expect(r).toHaveLength(1);
    expect(r[0]!.messageType).toBe(MessageType.ACK);
    expect(r[0]!.yiaddr).toBe("0.0.0.0");
    expect(r[0]!.options.has(Opt.LEASE_TIME)).toBe(false);
    expect(readU16Value(r[0]!.options.get(Opt.INTERFACE_MTU)!)).toBe(1442);
  });

  it("logs DECLINE and RELEASE without replying", async () => {
    expect(await send(clientPacket({ type: MessageType.DECLINE, mac: MAC, xid: 105, requested: RESERVED, serverId: SERVER }))).toEqual([]);
    expect(await server.waitEvent("decline", (l) => l.address === RESERVED && l.mac === MAC)).toBeDefined();
    expect(await send(clientPacket({ type: MessageType.RELEASE, mac: MAC, xid: 106, ciaddr: RESERVED, serverId: SERVER }), { to: SERVER })).toEqual([]);
    expect(await server.waitEvent("release", (l) => l.address === RESERVED)).toBeDefined();
  });

  it("answers a relayed DISCOVER to giaddr:67", async () => {
    const r = await send(clientPacket({ type: MessageType.DISCOVER, mac: MAC, xid: 107, giaddr: "192.0.2.200", hops: 1 }), { to: SERVER, fromPort: 67, listen: [67] });
    expect(r).toHaveLength(1);
    expect(r[0]!.port).toBe(67);
    expect(r[0]!.messageType).toBe(MessageType.OFFER);
    expect(r[0]!.yiaddr).toBe(RESERVED);
    expect(r[0]!.giaddr).toBe("192.0.2.200");
  });

  it("gives unknown MACs nothing, drops garbage and keeps serving", async () => {
    expect(await send(clientPacket({ type: MessageType.DISCOVER, mac: "02:00:00:00:99:99", xid: 108 }))).toEqual([]);
    const replies = await probe(pair, {
      listen: [68],
      send: [
        { bytes: Uint8Array.from(Buffer.from("not a dhcp packet")), to: "255.255.255.255", port: 67, fromPort: 68 },
        { bytes: clientPacket({ type: MessageType.DISCOVER, mac: MAC, xid: 109 }).slice(0, 242), to: "255.255.255.255", port: 67, fromPort: 68 },
      ],
      waitMs: 800,
    });
    expect(decoded(replies).filter((p) => p.op === BOOTREPLY)).toEqual([]);
    expect(await server.waitEvent("malformed-dropped")).toBeDefined();
    expect(server.alive).toBe(true);
    const after = await send(clientPacket({ type: MessageType.DISCOVER, mac: MAC, xid: 110 }));
    expect(after.map((p) => p.messageType)).toEqual([MessageType.OFFER]);
  });

  it("detects a rogue server's OFFER on the link", async () => {
    const rogue = encodeDhcp({
      op: BOOTREPLY, xid: 111, chaddr: chaddrFromMac(MAC), yiaddr: "192.0.2.150",
      options: [{ code: Opt.MESSAGE_TYPE, data: u8(MessageType.OFFER) }, { code: Opt.SERVER_ID, data: ipv4Bytes(["192.0.2.66"]) }],
    });
    await probe(pair, { listen: [67], send: [{ bytes: rogue, to: "255.255.255.255", port: 68, fromPort: 67 }], waitMs: 300 });
    const ev = await server.waitEvent("rogue-dhcp-server");
    expect(ev).toMatchObject({ serverId: "192.0.2.66", message: "OFFER", interface: pair.hostIf });
  });

  it("persists a dynamic lease crash-safely: it survives SIGKILL of the server", async () => {
    const client = "02:00:00:00:aa:01";
    const relay = { to: SERVER, fromPort: 67, listen: [67] };
    const offer = await send(clientPacket({ type: MessageType.DISCOVER, mac: client, xid: 201, giaddr: "198.51.100.2" }), relay);
    expect(offer.map((p) => p.messageType)).toEqual([MessageType.OFFER]);
    const address = offer[0]!.yiaddr;
    expect(address).toMatch(/^198\.51\.100\.10[0-3]$/);
    const ack = await send(clientPacket({ type: MessageType.REQUEST, mac: client, xid: 202, giaddr: "198.51.100.2", requested: address, serverId: SERVER }), relay);
    expect(ack.map((p) => p.messageType)).toEqual([MessageType.ACK]);
    // The ACK went out only after the lease was on disk.
    const onDisk = JSON.parse(readFileSync(leaseFile, "utf8")) as { leases: { address: string; mac: string; state: string }[] };
    expect(onDisk.leases).toContainEqual(expect.objectContaining({ address, mac: client, state: "bound" }));

    const killed = server.pid!;
    process.kill(killed, "SIGKILL");
    await waitFor(async () => (server.alive ? undefined : true), 5000);
    // What a kill in the middle of a lease write leaves: the dead server's temporary file. One of
    // a live process (this one) and one of another file's name are not the restarted server's to remove.
    const stale = join(dir, `.leases.json.${killed}.tmp`);
    const live = join(dir, `.leases.json.${process.pid}.tmp`);
    const other = join(dir, `.site.json.${killed}.tmp`);
    for (const path of [stale, live, other]) writeFileSync(path, "{\"version\":1,\"lea");
    server = await ServerProcess.startJson(pair, sitePath, `${pair.hostIf}=lan`, ["--lease-file", leaseFile]);
    expect(existsSync(stale)).toBe(false);
    expect(server.events("stale-temp-removed").map((l) => [l.path, l.pid])).toEqual([[stale, killed]]);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
    const thief = await send(clientPacket({ type: MessageType.REQUEST, mac: "02:00:00:00:aa:02", xid: 203, giaddr: "198.51.100.2", requested: address }), relay);
    expect(thief.map((p) => p.messageType)).toEqual([MessageType.NAK]);
    const owner = await send(clientPacket({ type: MessageType.REQUEST, mac: client, xid: 204, giaddr: "198.51.100.2", requested: address }), relay);
    expect(owner.map((p) => p.messageType)).toEqual([MessageType.ACK]);
  });

  it("answers a burst that queued up while it was paused, every request in order, reading in batches", async () => {
    // Datagrams sent from the guest namespace: the probe is the only sender there.
    const guestUdpOut = () => udpCounter(pair, "guest", "OutDatagrams");
    const count = 100;
    const xids = Array.from({ length: count }, (_, i) => 5000 + i);
    const before = await guestUdpOut();
    process.kill(server.pid!, "SIGSTOP");
    let replies: Promise<ProbeReply[]>;
    try {
      // Relayed, so every OFFER is unicast to the relay's port 67 where the probe listens.
      replies = probe(pair, {
        listen: [67],
        send: xids.map((xid) => ({ bytes: clientPacket({ type: MessageType.DISCOVER, mac: MAC, xid, giaddr: "192.0.2.200", hops: 1 }), to: SERVER, port: 67, fromPort: 67 })),
        gapMs: 0,
        waitMs: 3000,
      });
      // Resume only once the kernel holds the whole burst in the server's socket.
      expect(await waitFor(async () => ((await guestUdpOut()) - before >= count ? true : undefined), 15_000, 50)).toBe(true);
    } finally {
      process.kill(server.pid!, "SIGCONT");
    }
    const offers = decoded(await replies).filter((p) => p.op === BOOTREPLY && p.messageType === MessageType.OFFER);
    expect(offers.map((p) => p.xid)).toEqual(xids);
    expect(new Set(offers.map((p) => p.yiaddr))).toEqual(new Set([RESERVED]));
  });

  it("stops cleanly on SIGTERM and reports its counters", async () => {
    await send(Uint8Array.from(Buffer.from("garbage after restart")), { waitMs: 300 });
    expect(await server.stop()).toBe(0);
    const stopped = server.events("stopped")[0] as { counters: Record<string, number> } | undefined;
    expect(stopped?.counters.malformed).toBeGreaterThanOrEqual(1);
    expect(stopped?.counters["replies.ACK"]).toBeGreaterThanOrEqual(1);
    // The burst above was read by recvmmsg after the first datagram of its turn.
    expect(stopped?.counters["received-in-batches"]).toBeGreaterThanOrEqual(1);
  });
});
