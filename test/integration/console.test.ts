// The console in a real browser: Debian's chromium, driven by playwright-core (never a downloaded
// browser). A simulated agent reports over the real WebSocket; the page must show the reported
// address appear live, without a reload, and flag an MTU mismatch. Another VM is polled through a
// scripted guest agent whose cloud-init result carries an error, which the page must show. A screenshot is kept under
// test-artifacts/ for people to look at.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { agentCredential } from "../../metadata-server/state/tokens.ts";
import type { Server } from "node:net";
import { delimited, fileReadAnswer, scriptedAgent } from "../helpers/fake-qga.ts";
import { requirePeer, tempDir } from "../helpers/peers.ts";
import { freePort, httpGet, start, stopAll, waitFor } from "../helpers/processes.ts";

const VM = "00000000-0000-4000-8000-0000000000f1";
const DB = "00000000-0000-4000-8000-0000000000f2";
const CLOUD_INIT_ERROR = "('scripts_user', RuntimeError('Runparts: 1 failures'))";
const MAC = "52:54:00:f1:00:01";
const work = tempDir("console");
const stateDir = join(work.path, "state");
const inventory = join(work.path, "site.yaml");
const qgaSocket = join(work.path, "db-7.qga.sock");
let fakeAgent: Server | undefined;
let base = "";
let browser: Browser;

writeFileSync(inventory, `version: 1
networks:
  - name: overlay
    type: ovn
    ipv4: { subnet: 203.0.113.0/24, gateway: 203.0.113.1, dhcp: false }
  - name: storage
    type: bridge
    mtu: 9000
    ipv4: { subnet: 198.51.100.0/24, dhcp: false }
vms:
  - id: ${VM}
    name: web-7
    nics:
      - { network: overlay, mac: "${MAC}", ipv4: { address: 203.0.113.70 } }
      - { network: storage, mac: "52:54:00:f1:00:02", ipv4: { address: 198.51.100.70 } }
  - id: ${DB}
    name: db-7
    qgaSocket: ${qgaSocket}
    nics: [{ network: storage, mac: "52:54:00:f2:00:01", ipv4: { address: 198.51.100.71 } }]
`);

beforeAll(async () => {
  const executablePath = requirePeer("chromium");
  // db-7's guest agent, as the server's poller finds it: no address yet, cloud-init finished with an error.
  fakeAgent = scriptedAgent(qgaSocket, (id) => delimited(id), {
    "guest-network-get-interfaces": `{"return": [{"name": "eth0", "hardware-address": "52:54:00:f2:00:01"}]}\n`,
    "__org.guestlink": `{"error": {"class": "CommandNotFound", "desc": "not here"}}\n`,
    "guest-file-open": `{"return": 1000}\n`,
    "guest-file-read": fileReadAnswer(JSON.stringify({ v1: { datasource: "DataSourceNoCloud", errors: [CLOUD_INIT_ERROR] } })),
    "guest-file-close": `{"return": {}}\n`,
  });
  const port = await freePort();
  base = `http://127.0.0.1:${port}/`;
  start(process.execPath, ["bin/guestlink", "serve", "--inventory", inventory, "--listen", `127.0.0.1:${port}`, "--state-dir", stateDir]);
  await waitFor("the server", async () => ((await httpGet(`${base}healthz`)).status === 200 ? true : undefined));
  browser = await chromium.launch({
    executablePath, headless: true,
    // No sandbox as root; no background networking, which this machine's closed network refuses.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  fakeAgent?.close();
  await stopAll();
  work.remove();
});

/** An agent for web-7, authenticated with the credential the server derives from its secret. */
async function agent(): Promise<(interfaces: unknown[]) => Promise<void>> {
  const secret = new Uint8Array(readFileSync(join(stateDir, readdirSecret())));
  const ws = new WebSocket(`${base.replace("http", "ws")}v1/agent`, { headers: { authorization: `Bearer ${agentCredential(secret, VM)}`, "x-guestlink-vm": VM } });
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  ws.send(JSON.stringify({ type: "hello", vmId: VM, agent: { name: "test", version: "1" } }));
  let seq = 0;
  return async (interfaces) => {
    ws.send(JSON.stringify({ type: "report", seq: seq++, full: true, at: new Date().toISOString(), interfaces }));
    await new Promise((r) => ws.once("message", r));
  };
}

function readdirSecret(): string {
  // The one file in the state directory the server keeps its secret in (its name is the server's business).
  const f = readdirSync(stateDir).find((n) => n.includes("secret"));
  if (!f) throw new Error(`no secret file in ${stateDir}`);
  return f;
}

describe("the console in chromium", () => {
  it("loads, shows a reported address appear live, flags an MTU mismatch, and saves a screenshot", async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(base);
    await page.waitForSelector("#live.on");
    await expect.poll(() => page.locator("#vms tbody tr").count()).toBe(3);
    expect(await page.locator("#summary").textContent()).toMatch(/2 VMs, 3 NICs, 0 with problems/);

    const report = await agent();
    await report([
      { name: "eth0", mac: MAC, operstate: "up", carrier: true, mtu: 1500, addresses: ["203.0.113.70/24", "203.0.113.99/24"] },
      { name: "eth1", mac: "52:54:00:f1:00:02", operstate: "up", carrier: true, mtu: 9000, addresses: ["198.51.100.70/24"] },
    ]);
    // No reload: the rows change over /v1/events.
    const row = page.locator('tr[data-vm="' + VM + '"]').first();
    await expect.poll(() => row.locator(".addr.unexpected").textContent(), { timeout: 10_000 }).toBe("203.0.113.99");
    await expect.poll(() => row.locator(".verdict").textContent()).toBe("1442 ✗");
    await expect.poll(() => row.locator(".layer.mismatch").textContent()).toBe("guest 1500");
    expect(await row.getAttribute("class")).toBe("problem");

    // Filters: problems only leaves web-7's overlay NIC; the storage network filter hides it.
    await page.check("#f-problems");
    await expect.poll(() => page.locator("#vms tbody tr").count()).toBe(1);
    await page.uncheck("#f-problems");
    await page.selectOption("#f-network", "storage");
    await expect.poll(() => page.locator("#vms tbody tr").count()).toBe(2);
    await page.selectOption("#f-network", "");

    // db-7 was polled: cloud-init's error is on its row, word for word in the tooltip.
    const badge = page.locator('tr[data-vm="' + DB + '"] .cloud-init');
    await expect.poll(() => badge.textContent(), { timeout: 10_000 }).toBe("cloud-init: 1 error");
    expect(await badge.getAttribute("title")).toBe(CLOUD_INIT_ERROR);

    // Drill into the raw report.
    await page.click(`button[data-open="${VM}"]`);
    await expect.poll(() => page.locator("#detail-raw").textContent()).toMatch(/"source": "agent"/);
    expect(await page.locator("#detail-problems").textContent()).toMatch(/the guest has MTU 1500, the network overlay has 1442/);

    mkdirSync("test-artifacts", { recursive: true });
    const shot = await page.screenshot({ path: join("test-artifacts", "console.png"), fullPage: true });
    expect(shot.length).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
    await page.close();
  });
});
