// GET /v1/mtu and GET /v1/console/state reuse one whole-site MTU check while neither the
// inventory revision nor any guest record changed, and see a new report or an inventory swap on
// the very next request. In process: SiteStore, ReportsService and MetadataService on loopback,
// with a real agent WebSocket for the reports. The check is counted through ReportsOptions.checkMtu.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { ConsoleState } from "../../../metadata-server/hub/console-view.ts";
import { ReportsService } from "../../../metadata-server/hub/reports.ts";
import { silentLogger } from "../../../metadata-server/http/log.ts";
import { MetadataService } from "../../../metadata-server/http/server.ts";
import { checkMtu, type MtuCheckInput, type MtuReport } from "../../../metadata-server/model/consistency.ts";
import { SiteStore } from "../../../metadata-server/site-store.ts";
import { agentCredential } from "../../../metadata-server/state/tokens.ts";
import { httpGet } from "../../helpers/processes.ts";
import { tempDir } from "../../helpers/peers.ts";

const VM_A = "00000000-0000-4000-8000-0000000000c1";
const VM_B = "00000000-0000-4000-8000-0000000000c2";
const MAC_A = "52:54:00:cc:00:01";
const MAC_B = "52:54:00:cc:00:02";
const secret = Buffer.alloc(32, 7);
const work = tempDir("reports-cache");
const inventory = join(work.path, "site.yaml");

const site = (mtu: number) => `version: 1
networks:
  - name: lan
    type: bridge
    mtu: ${mtu}
    ipv6: { prefix: "2001:db8:71::/64", mode: static }
vms:
  - id: ${VM_A}
    name: alpha
    nics: [{ network: lan, mac: "${MAC_A}", ipv6: { address: "2001:db8:71::10" } }]
  - id: ${VM_B}
    name: beta
    nics: [{ network: lan, mac: "${MAC_B}", ipv6: { address: "2001:db8:71::20" } }]
`;

let checks = 0;
const countingCheck = (input: MtuCheckInput): MtuReport => { checks++; return checkMtu(input); };

let store: SiteStore;
let reports: ReportsService | undefined;
let service: MetadataService;
let base = "";
const sockets: WebSocket[] = [];

beforeAll(async () => {
  writeFileSync(inventory, site(1500));
  store = new SiteStore({ inventoryPath: inventory, secret, log: silentLogger, watch: false, onSwap: (s) => reports?.onSnapshot(s) });
  expect((await store.start()).result).toBe("loaded");
  reports = await ReportsService.open({
    stateDir: work.path, secret, current: () => store.current(), log: () => {}, checkMtu: countingCheck,
    // The console's per-VM event flush runs its own (partial) check; keep it out of the count.
    eventIntervalMs: 3_600_000,
  });
  service = new MetadataService({
    store, secret, reports, log: silentLogger, identify: { trustedProxies: new Set() },
    listen: [{ host: "127.0.0.1", port: 0, roles: ["operator", "guest"] }],
  });
  const [bound] = await service.start();
  base = `http://127.0.0.1:${bound!.port}/`;
});

afterAll(async () => {
  for (const ws of sockets) ws.close();
  await reports?.close();
  await service?.shutdown("test");
  store?.close();
  work.remove();
});

const getJson = async <T>(path: string): Promise<T> => {
  const r = await httpGet(base + path);
  expect(r.status, `${path}: ${r.body}`).toBe(200);
  return JSON.parse(r.body) as T;
};
const mtu = () => getJson<MtuReport>("v1/mtu");
const consoleState = () => getJson<ConsoleState>("v1/console/state");

/** Reports one interface over the agent WebSocket, as the agent does, and resolves once the server acknowledged it. */
async function agentReports(vmId: string, mac: string, ifaceMtu: number, at: string): Promise<void> {
  const ws = new WebSocket(`${base.replace("http", "ws")}v1/agent`, { headers: { authorization: `Bearer ${agentCredential(secret, vmId)}`, "x-guestlink-vm": vmId } });
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => { ws.once("open", () => resolve()); ws.once("unexpected-response", (_q, res) => reject(new Error(`HTTP ${res.statusCode}`))); ws.once("error", reject); });
  const acked = new Promise<void>((resolve) => ws.on("message", (d) => { if ((JSON.parse(String(d)) as { type: string }).type === "ack") resolve(); }));
  ws.send(JSON.stringify({ type: "hello", vmId, agent: { name: "test", version: "0" } }));
  ws.send(JSON.stringify({ type: "report", seq: 0, full: true, at, interfaces: [{ name: "eth0", mac, operstate: "up", carrier: true, mtu: ifaceMtu, addresses: [] }] }));
  await acked;
}

describe("the whole-site MTU check behind /v1/mtu and /v1/console/state", () => {
  it("runs once for any number of requests while nothing changed", async () => {
    checks = 0;
    const first = await mtu();
    expect(checks).toBe(1);
    const second = await mtu();
    const state1 = await consoleState();
    const state2 = await consoleState();
    expect(checks).toBe(1);
    expect(second).toEqual(first);
    expect(state2).toEqual(state1);
    expect(first.summary).toEqual({ interfaces: 2, inconsistent: 0, guestsReporting: 0 });
    expect(state1.vms[0]!.nics[0]!.mtu).toMatchObject({ expected: 1500, reported: null, verdict: "consistent" });
  });

  it("sees a new guest report, for any VM, on the very next request", async () => {
    checks = 0;
    await agentReports(VM_A, MAC_A, 1400, "2026-11-24T10:00:00Z");
    const afterA = await mtu();
    expect(checks).toBe(1);
    const alpha = afterA.vms.find((v) => v.vmId === VM_A)!;
    expect(alpha.reportedAt).toBe("2026-11-24T10:00:00Z");
    expect(alpha.interfaces[0]!.verdict).toBe("inconsistent"); // the guest has 1400 on a 1500 network
    expect(afterA.summary).toEqual({ interfaces: 2, inconsistent: 1, guestsReporting: 1 });
    const state = await consoleState(); // same inputs: the report just computed is reused
    expect(checks).toBe(1);
    expect(state.vms.find((v) => v.id === VM_A)!.nics[0]!.mtu).toMatchObject({ reported: 1400, verdict: "inconsistent" });

    // A report from the other VM, which changes nothing about alpha, still changes the answer.
    await agentReports(VM_B, MAC_B, 1500, "2026-11-24T10:00:05Z");
    const afterB = await mtu();
    expect(checks).toBe(2);
    expect(afterB.vms.find((v) => v.vmId === VM_B)!.reportedAt).toBe("2026-11-24T10:00:05Z");
    expect(afterB.summary).toEqual({ interfaces: 2, inconsistent: 1, guestsReporting: 2 });
    await mtu();
    expect(checks).toBe(2);
  });

  it("sees an inventory swap on the very next request, and keeps reusing across an unchanged reload", async () => {
    const before = await mtu();
    checks = 0;
    writeFileSync(inventory, site(1400));
    expect((await store.reload("test")).result).toBe("loaded");
    const after = await mtu();
    expect(checks).toBe(1);
    expect(after.revision).toBe(store.current()!.revision);
    expect(after.revision).not.toBe(before.revision);
    const alpha = after.vms.find((v) => v.vmId === VM_A)!;
    expect(alpha.interfaces[0]).toMatchObject({ expected: 1400, verdict: "consistent" }); // the guest's 1400 is now right
    expect(after.summary.inconsistent).toBe(1); // beta still has 1500
    const state = await consoleState();
    expect(state.revision).toBe(after.revision);
    expect(state.networks).toEqual([{ name: "lan", type: "bridge", mtu: 1400 }]);
    expect(checks).toBe(1);

    expect((await store.reload("same content")).result).toBe("unchanged");
    await mtu();
    expect(checks).toBe(1);
  });
});
