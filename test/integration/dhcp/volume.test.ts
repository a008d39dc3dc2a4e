// Volume from a real client: Kea's perfdhcp (the load generator of bench/dhcp) runs full DORA
// exchanges against our server over a veth, as a relay, for 80 reserved MACs. The server is
// stopped while perfdhcp's preload queues up, so the batched path (recvmmsg/sendmmsg) is what
// answers it; every exchange must complete, each with its reserved address.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { NetnsPair, mustRun, requirePrograms, waitFor } from "../../helpers/netns.ts";
import { lanNetwork, nic, vm } from "../../unit/dhcp/fixtures.ts";
import type { ResolvedSite } from "../../../metadata-server/model/types.ts";
import { ServerProcess, stateDir, udpCounter, writeJson } from "./clients.ts";

const SERVER = "192.0.2.1";
const RELAY = "192.0.2.200";
const CLIENTS = 80;
const PRELOAD = 40;
const EXCHANGES = 200;

const macOf = (i: number) => `02:00:00:01:00:${i.toString(16).padStart(2, "0")}`;

function volumeSite(): ResolvedSite {
  return {
    revision: "volume", domain: "example.test", networks: [lanNetwork(1442)], hosts: [],
    vms: Array.from({ length: CLIENTS }, (_, i) => ({
      ...vm(`vm${i}`, [nic(macOf(i), "lan", `192.0.2.${100 + i}`, { gateway: SERVER })]),
      id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
    })),
  };
}

/** perfdhcp's counters for one exchange stage ("DISCOVER-OFFER" or "REQUEST-ACK"). */
function stage(out: string, name: string): { sent: number; received: number; drops: number } {
  const block = out.split(`***Statistics for: ${name}***`)[1]?.split("***")[0] ?? "";
  const num = (re: RegExp) => Number(re.exec(block)?.[1] ?? NaN);
  return { sent: num(/sent packets:\s*(\d+)/), received: num(/received packets:\s*(\d+)/), drops: num(/drops:\s*(\d+)/) };
}

describe("perfdhcp (a real DHCP client at volume) through the batched path", () => {
  const pair = new NetnsPair();
  const dir = stateDir("volume");
  let server: ServerProcess;

  beforeAll(async () => {
    await requirePrograms(["ip", "perfdhcp"]);
    await pair.create({ mtu: 1500, hostAddresses: [`${SERVER}/24`] });
    await mustRun("ip", ["-n", pair.guestNs, "addr", "add", `${RELAY}/24`, "dev", pair.guestIf]);
    writeJson(join(dir, "site.json"), volumeSite());
    writeFileSync(join(dir, "macs.txt"), `${Array.from({ length: CLIENTS }, (_, i) => macOf(i)).join("\n")}\n`);
    server = await ServerProcess.startJson(pair, join(dir, "site.json"), `${pair.hostIf}=lan`, ["--no-watch"]);
  });

  afterAll(async () => {
    await pair.cleanup();
  });

  it("completes every exchange with the reserved addresses, reading the queued preload in batches", async () => {
    const before = await udpCounter(pair, "guest", "OutDatagrams");
    process.kill(server.pid!, "SIGSTOP");
    let perf: Promise<{ code: number | null; out: string }>;
    try {
      const child = pair.spawnInGuest("perfdhcp", [
        "-4", "-l", RELAY, "-M", join(dir, "macs.txt"), "-P", String(PRELOAD), "-n", String(EXCHANGES), "-r", "500",
        "-W", "2000000", SERVER,
      ]);
      perf = new Promise((resolve) => {
        let out = "";
        child.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
        child.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
        child.once("exit", (code) => resolve({ code, out }));
      });
      // Resume once the kernel holds the whole preload in the server's socket.
      expect(await waitFor(async () => ((await udpCounter(pair, "guest", "OutDatagrams")) - before >= PRELOAD ? true : undefined), 15_000, 20)).toBe(true);
    } finally {
      process.kill(server.pid!, "SIGCONT");
    }
    const { code, out } = await perf;
    const offers = stage(out, "DISCOVER-OFFER");
    const acks = stage(out, "REQUEST-ACK");
    expect(offers.sent, out).toBeGreaterThanOrEqual(EXCHANGES);
    expect(offers.received, out).toBe(offers.sent);
    expect(acks.received, out).toBe(acks.sent);
    expect(acks.received, out).toBe(offers.sent);
    // perfdhcp's exit status: 0 when nothing was dropped, 3 when something was.
    expect(code, out).toBe(0);

    // Each ACK went to a reserved MAC with its own address (the server logs every ACK at info).
    const acked = server.events("ack").filter((e) => e.to === RELAY);
    expect(acked.length).toBeGreaterThanOrEqual(EXCHANGES);
    for (const e of acked) expect(e.address).toBe(`192.0.2.${100 + Number.parseInt(String(e.mac).split(":")[5]!, 16)}`);

    expect(await server.stop()).toBe(0);
    const counters = (server.events("stopped")[0] as { counters: Record<string, number> }).counters;
    expect(counters["received-in-batches"]).toBeGreaterThanOrEqual(1);
    expect(counters["send-errors"] ?? 0).toBe(0);
  });
});
