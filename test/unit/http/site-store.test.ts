import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogLevel } from "../../../metadata-server/http/log.ts";
import { loadSiteFile } from "../../../metadata-server/inventory/load.ts";
import type { ResolvedSite } from "../../../metadata-server/model/types.ts";
import { SEED_FORMATS } from "../../../metadata-server/render/registry.ts";
import { seedFiles } from "../../../metadata-server/seed/layout.ts";
import { SiteSnapshot, SiteStore } from "../../../metadata-server/site-store.ts";
import { seedToken } from "../../../metadata-server/state/tokens.ts";
import { tempDir } from "../../helpers/peers.ts";

const FIXTURE = "test/integration/http/fixtures/site.yaml";
const secret = Buffer.alloc(32, 3);
let site: ResolvedSite;
const work = tempDir("site-store");

beforeAll(async () => { site = (await loadSiteFile(FIXTURE)).site!; });
afterAll(() => work.remove());

describe("SiteSnapshot", () => {
  it("serves exactly the bytes the seed layout (guestlink render) produces", () => {
    const snap = new SiteSnapshot(site, secret);
    for (const vm of site.vms) {
      const ctx = { site, networkConfigVersion: 1 as const };
      for (const f of seedFiles("nocloud", vm, ctx)) expect(snap.nocloud(vm, f.path as "meta-data")).toEqual(Buffer.from(f.data));
      for (const f of seedFiles("configdrive", vm, ctx).filter((f) => f.path.startsWith("openstack/"))) {
        expect(snap.openstack(vm, f.path.replace(/^openstack\/[^/]+\//, "") as "user_data")).toEqual(Buffer.from(f.data));
      }
    }
    expect(SEED_FORMATS.nocloud.documents.length).toBe(4);
  });

  it("renders each document once per revision", () => {
    const snap = new SiteSnapshot(site, secret);
    const vm = site.vms[0]!;
    const first = snap.nocloud(vm, "user-data");
    expect(snap.nocloud(vm, "user-data")).toBe(first);
    expect(snap.cachedDocuments).toBe(1);
    snap.nocloud(vm, "meta-data");
    snap.openstack(vm, "meta_data.json");
    expect(snap.cachedDocuments).toBe(3);
  });

  it("starts the cache over beyond maxCachedDocuments instead of growing without bound", () => {
    const snap = new SiteSnapshot(site, secret, { maxCachedDocuments: 2 });
    const vm = site.vms[0]!;
    snap.nocloud(vm, "user-data");
    snap.nocloud(vm, "meta-data");
    snap.nocloud(vm, "vendor-data");
    expect(snap.cachedDocuments).toBe(1);
  });

  it("indexes seed tokens and refuses anything that is not one", () => {
    const snap = new SiteSnapshot(site, secret);
    for (const vm of site.vms) expect(snap.vmBySeedToken(seedToken(secret, vm.id))).toBe(vm);
    expect(snap.vmBySeedToken(seedToken(Buffer.alloc(32, 4), site.vms[0]!.id))).toBeUndefined();
    expect(snap.vmBySeedToken("short")).toBeUndefined();
    expect(snap.vmBySeedToken(site.vms[0]!.id)).toBeUndefined();
  });

  it("includes the agent enrollment in vendor-data only when a public URL is set", () => {
    const vm = site.vms[0]!;
    expect(new SiteSnapshot(site, secret).nocloud(vm, "vendor-data").toString()).toBe("#cloud-config\n{}\n");
    const withAgent = new SiteSnapshot(site, secret, { publicUrl: "http://192.0.2.1:8775" }).nocloud(vm, "vendor-data").toString();
    expect(withAgent).toContain("/etc/guestlink/agent.json");
    expect(withAgent).toContain("ws://192.0.2.1:8775/v1/agent");
  });
});

describe("SiteStore", () => {
  const events: Array<{ level: LogLevel; event: string; fields: Record<string, unknown> }> = [];
  const log = { log: (level: LogLevel, event: string, fields: Record<string, unknown> = {}) => void events.push({ level, event, fields }) };

  it("keeps the last good revision when a reload finds problems, and logs them formatted", async () => {
    const path = join(work.path, "inv.yaml");
    copyFileSync(FIXTURE, path);
    const store = new SiteStore({ inventoryPath: path, secret, log, watch: false });
    expect((await store.start()).result).toBe("loaded");
    const good = store.current()!;
    writeFileSync(path, readFileSync(FIXTURE, "utf8").replace("mtu: 1500", "mtu: 40"));
    const outcome = await store.reload("test");
    expect(outcome.result).toBe("rejected");
    expect(store.current()).toBe(good);
    const rejected = events.find((e) => e.event === "inventory.rejected")!;
    expect(rejected.level).toBe("error");
    expect((rejected.fields.issues as string[])[0]).toMatch(/inv\.yaml:\d+:\d+: networks\[0\]\.mtu: .*\[MTU_IMPOSSIBLE\]$/);
    expect(store.counters).toEqual({ loaded: 1, unchanged: 0, rejected: 1 });
  });

  it("does not rebuild (and keeps its render cache) when the content did not change", async () => {
    const path = join(work.path, "same.yaml");
    copyFileSync(FIXTURE, path);
    const store = new SiteStore({ inventoryPath: path, secret, log, watch: false });
    await store.start();
    const snap = store.current()!;
    expect((await store.reload("again")).result).toBe("unchanged");
    expect(store.current()).toBe(snap);
  });

  it("coalesces concurrent reloads into at most one more load", async () => {
    let loads = 0;
    const store = new SiteStore({
      inventoryPath: FIXTURE, secret, log, watch: false,
      load: async (p, o) => { loads++; await new Promise((r) => setTimeout(r, 20)); return loadSiteFile(p, o); },
    });
    await store.start();
    loads = 0;
    await Promise.all([store.reload("a"), store.reload("b"), store.reload("c"), store.reload("d")]);
    await new Promise((r) => setTimeout(r, 100));
    expect(loads).toBe(2);
  });

  it("does not judge a load the file changed under: it loads again once the file has settled", async () => {
    const path = join(work.path, "torn.yaml");
    copyFileSync(FIXTURE, path);
    const later = readFileSync(FIXTURE, "utf8").replace("hostname: vm-a", "hostname: vm-a-later");
    let loads = 0;
    const store = new SiteStore({
      inventoryPath: path, secret, log, watch: false, watchDebounceMs: 50,
      // The second load is raced by a writer: what it read is not what the file holds afterwards.
      load: async (p, o) => { const r = await loadSiteFile(p, o); if (++loads === 2) writeFileSync(p, later); return r; },
    });
    await store.start();
    const first = store.current()!.revision;
    const from = events.length;
    const outcome = await store.reload("test");
    expect(loads).toBe(3);
    expect(events.slice(from).map((e) => e.event)).toEqual(["inventory.unsettled", "inventory.loaded"]);
    expect(outcome.result).toBe("loaded");
    expect(store.current()!.revision).not.toBe(first);
    expect(store.current()!.nocloud(store.current()!.findVm("vm-a")!, "meta-data").toString()).toMatch(/vm-a-later/);
    store.close();
  });
});
