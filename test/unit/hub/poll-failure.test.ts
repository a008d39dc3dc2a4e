// A QGA poll that fails keeps the last good one: QEMU's chardev takes one client at a time, so an
// operator's own command (or a reboot) fails a poll now and then, and the console must not forget
// cloud-init's verdict because of it. In process: SiteStore and ReportsService, with a scripted
// agent behind the inventory's qgaSocket that answers one poll and then goes away.
import { rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReportsService } from "../../../metadata-server/hub/reports.ts";
import { silentLogger } from "../../../metadata-server/http/log.ts";
import { SiteStore } from "../../../metadata-server/site-store.ts";
import { delimited, fileReadAnswer, scriptedAgent } from "../../helpers/fake-qga.ts";
import { tempDir } from "../../helpers/peers.ts";
import { waitFor } from "../../helpers/processes.ts";

const VM = "00000000-0000-4000-8000-0000000000d1";
const MAC = "52:54:00:dd:00:01";
const work = tempDir("poll-failure");
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
    name: gamma
    qgaSocket: ${qgaSocket}
    nics: [{ network: lan, mac: "${MAC}", ipv4: { address: 198.51.100.30 } }]
`);
  agent = scriptedAgent(qgaSocket, (id) => delimited(id), {
    "guest-network-get-interfaces": `{"return": [{"name": "eth0", "hardware-address": "${MAC}", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "198.51.100.30", "prefix": 24}]}]}\n`,
    "__org.guestlink": `{"error": {"class": "CommandNotFound", "desc": "not here"}}\n`,
    "guest-file-open": `{"return": 1000}\n`,
    "guest-file-read": fileReadAnswer(JSON.stringify({ v1: { datasource: "DataSourceNoCloud", errors: [] } })),
    "guest-file-close": `{"return": {}}\n`,
  });
  store = new SiteStore({ inventoryPath: inventory, secret: Buffer.alloc(32, 9), log: silentLogger, watch: false, onSwap: (s) => reports?.onSnapshot(s) });
  expect((await store.start()).result).toBe("loaded");
  reports = await ReportsService.open({
    stateDir: work.path, secret: Buffer.alloc(32, 9), current: () => store.current(),
    log: (level, event, fields) => { if (level === "warn") warnings.push({ event, fields: fields ?? {} }); },
    // Polls are driven by the test (pollNow); the poller's own schedule stays out of the way.
    poller: { intervalMs: 3_600_000, bootIntervalMs: 3_600_000, commandTimeoutMs: 500 },
  });
});

afterAll(async () => {
  agent?.close();
  await reports?.close();
  store?.close();
  work.remove();
});

describe("a failed QGA poll", () => {
  it("keeps the last good poll, and cloud-init's verdict on the console, with the error beside it", async () => {
    const r = reports!;
    // The poller's first poll starts at once when the inventory names the socket.
    const good = await waitFor("the first poll", () => r.lastPoll(VM)?.observed, 5_000, 50);
    expect(good.cloudInit).toEqual({ done: true, datasource: "DataSourceNoCloud", errors: [] });
    expect(r.consoleState(store.current()!.site).vms[0]!.cloudInit).toEqual({ done: true, datasource: "DataSourceNoCloud", errors: [] });

    // The agent goes away (the guest reboots, or another client holds the chardev).
    await new Promise<void>((resolve) => agent!.close(() => resolve()));
    rmSync(qgaSocket, { force: true });
    const failed = await r.poller.pollNow(VM);
    expect(failed?.error).toMatch(/ENOENT|connect/);

    const poll = r.lastPoll(VM)!;
    expect(poll.error).toBe(failed!.error);
    expect(poll.observed).toBe(good); // the last good observation, with its own time
    expect(Date.parse(poll.at)).toBeGreaterThanOrEqual(Date.parse(good.at));
    expect(r.consoleState(store.current()!.site).vms[0]!.cloudInit).toEqual({ done: true, datasource: "DataSourceNoCloud", errors: [] });
    expect(warnings.map((w) => w.event)).toContain("qga.poll_failed");
  });
});
