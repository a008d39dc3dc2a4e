// A qemu-ga answer can be as large as an agent's report, so what a host-side poll observes is held
// to the same limits: a poll that finds more interfaces than maxInterfacesPerVm is not stored, the
// VM is flagged as a refused report from "qga", and the warning names the limit. In process:
// SiteStore and ReportsService, with a scripted qemu-ga behind the inventory's qgaSocket.
import { writeFileSync } from "node:fs";
import type { Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReportsService } from "../../../metadata-server/hub/reports.ts";
import { silentLogger } from "../../../metadata-server/http/log.ts";
import { SiteStore } from "../../../metadata-server/site-store.ts";
import { delimited, scriptedAgent } from "../../helpers/fake-qga.ts";
import { tempDir } from "../../helpers/peers.ts";
import { waitFor } from "../../helpers/processes.ts";

const VM = "00000000-0000-4000-8000-0000000000d2";
const MAC = "52:54:00:dd:00:02";
const work = tempDir("poll-limits");
const inventory = join(work.path, "site.yaml");
const qgaSocket = join(work.path, "vm.qga.sock");
const warnings: { event: string; fields: Record<string, unknown> }[] = [];

let store: SiteStore;
let reports: ReportsService | undefined;
let agent: Server | undefined;

beforeAll(async () => {
  writeFileSync(inventory, `version: 1
networks:
  - name: lan
    type: bridge
    ipv4: { subnet: 198.51.100.0/24, dhcp: false }
vms:
  - id: ${VM}
    name: delta
    qgaSocket: ${qgaSocket}
    nics: [{ network: lan, mac: "${MAC}", ipv4: { address: 198.51.100.31 } }]
`);
  const interfaces = Array.from({ length: 5 }, (_, i) => ({ name: `eth${i}`, "hardware-address": MAC, "ip-addresses": [] }));
  agent = scriptedAgent(qgaSocket, (id) => delimited(id), {
    "guest-network-get-interfaces": `${JSON.stringify({ return: interfaces })}\n`,
    "__org.guestlink": `{"error": {"class": "CommandNotFound", "desc": "not here"}}\n`,
    "guest-file-open": `{"error": {"class": "GenericError", "desc": "blocked"}}\n`,
  });
  store = new SiteStore({ inventoryPath: inventory, secret: Buffer.alloc(32, 9), log: silentLogger, watch: false, onSwap: (s) => reports?.onSnapshot(s) });
  expect((await store.start()).result).toBe("loaded");
  reports = await ReportsService.open({
    stateDir: work.path, secret: Buffer.alloc(32, 9), current: () => store.current(),
    log: (level, event, fields) => { if (level === "warn") warnings.push({ event, fields: fields ?? {} }); },
    agentHub: { maxInterfacesPerVm: 4 },
    poller: { intervalMs: 3_600_000, bootIntervalMs: 3_600_000, commandTimeoutMs: 500 },
  });
});

afterAll(async () => {
  agent?.close();
  await reports?.close();
  store?.close();
  work.remove();
});

describe("a QGA poll over the limits", () => {
  it("is not stored, and flags the VM with the limit's name", async () => {
    const r = reports!;
    await waitFor("the first poll", () => r.lastPoll(VM), 5_000, 50);
    const refused = await waitFor("the refusal", () => r.consoleState(store.current()!.site).vms[0]!.refused ?? undefined, 5_000, 50);
    expect(refused).toMatchObject({ source: "qga", message: expect.stringMatching(/the poll found 5 interfaces; a VM may have 4 \(maxInterfacesPerVm\)/) });
    expect(r.guest(VM)).toBeUndefined();
    expect(warnings.find((w) => w.event === "report.limit_exceeded")?.fields).toMatchObject({ vm: VM, source: "qga" });
  });
});
