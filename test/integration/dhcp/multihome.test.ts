// One server, two links, two networks: each interface's device-bound socket answers only for the
// network configured on it, so a MAC reserved on one network gets nothing on the other link even
// though both sockets listen on 0.0.0.0:67 in the same namespace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { NetnsPair, mustRun, requirePrograms } from "../../helpers/netns.ts";
import { nic, site, vm } from "../../unit/dhcp/fixtures.ts";
import { clientPacket } from "../../unit/dhcp/client-packets.ts";
import { MessageType, decodeDhcp } from "../../../metadata-server/dhcp/packet.ts";
import type { ResolvedSite } from "../../../metadata-server/model/types.ts";
import { ServerProcess, guestV4, probe, resetGuest, runUdhcpc, stateDir, writeJson } from "./clients.ts";

const LAN_MAC = "02:00:00:00:00:10";
const EDGE_MAC = "02:00:00:00:00:20";

function twoNetworkSite(): ResolvedSite {
  const s = site(1442);
  s.networks = [s.networks[0]!, {
    name: "edge", type: "bridge", encapsulation: "none", mtu: { value: 1450, because: ["edge"] }, mtuPolicy: "prefer-dhcp",
    ipv4: { cidr: "198.51.100.0/24", prefixLength: 24, netmask: "255.255.255.0", gateway: "198.51.100.1", dhcp: true, leaseTime: 3600 },
    dns: { servers: ["198.51.100.53"], search: [] }, routes: [],
  }];
  s.vms.push(vm("edge1", [nic(EDGE_MAC, "edge", "198.51.100.20", { gateway: "198.51.100.1", mtu: 1450 })]));
  return s;
}

describe("a multi-homed server answers each network on its own link", () => {
  const lan = new NetnsPair();
  const edge = new NetnsPair();
  const dir = stateDir("multihome");
  let server: ServerProcess;

  beforeAll(async () => {
    await requirePrograms(["ip", "udhcpc", "unshare"]);
    await lan.create({ mtu: 9000, guestMac: LAN_MAC, hostAddresses: ["192.0.2.1/24"] });
    await edge.create({ mtu: 9000, guestMac: EDGE_MAC });
    // Move the second link's host end into the first host namespace: one server, two links.
    await mustRun("ip", ["-n", edge.hostNs, "link", "set", edge.hostIf, "netns", lan.hostNs]);
    await mustRun("ip", ["-n", lan.hostNs, "addr", "add", "198.51.100.1/24", "dev", edge.hostIf]);
    await mustRun("ip", ["-n", lan.hostNs, "link", "set", edge.hostIf, "up"]);
    const sitePath = join(dir, "site.json");
    writeJson(sitePath, twoNetworkSite());
    server = await ServerProcess.startJson(lan, sitePath, `${lan.hostIf}=lan`, ["--interface", `${edge.hostIf}=edge`]);
  });

  afterAll(async () => {
    await edge.cleanup();
    await lan.cleanup();
  });

  it("gives each guest the reservation and MTU of its own network", async () => {
    await resetGuest(lan, 9000);
    await resetGuest(edge, 9000);
    expect((await runUdhcpc(lan, join(dir, "lan"))).code).toBe(0);
    expect((await runUdhcpc(edge, join(dir, "edge"))).code).toBe(0);
    const a = await guestV4(lan);
    const b = await guestV4(edge);
    expect([a.address, a.linkMtu, a.gateway]).toEqual(["192.0.2.10", 1442, "192.0.2.1"]);
    expect([b.address, b.linkMtu, b.gateway]).toEqual(["198.51.100.20", 1450, "198.51.100.1"]);
    expect(server.events("ack").map((l) => l.interface).sort()).toEqual([edge.hostIf, lan.hostIf].sort());
  });

  it("does not answer a MAC reserved on the other network", async () => {
    await resetGuest(edge, 9000);
    const replies = await probe(edge, {
      listen: [68],
      send: [{ bytes: clientPacket({ type: MessageType.DISCOVER, mac: LAN_MAC, xid: 301 }), to: "255.255.255.255", port: 67, fromPort: 68 }],
      waitMs: 800,
    });
    const offers = replies.map((r) => decodeDhcp(Buffer.from(r.hex, "hex"))).filter((d) => d.ok && d.packet.op === 2);
    expect(offers).toEqual([]);
    expect(await server.waitEvent("dropped", (l) => l.reason === "unknown-client" && l.interface === edge.hostIf && l.mac === LAN_MAC)).toBeDefined();
  });
});
