// The embedded guest state store survives a restart, is never left torn by a crash mid-write,
// and bounds what a guest can make it hold.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileGuestStore, type GuestRecord } from "../../../metadata-server/hub/store.ts";
import { tempDir } from "../../helpers/peers.ts";

const work = tempDir("store");
afterAll(() => work.remove());

const record = (vmId: string, mtu: number): GuestRecord => ({
  vmId, receivedAt: "2026-11-24T00:00:00Z", raw: { "guest-network-get-interfaces": [{ name: "eth0" }] },
  observed: { vmId, source: "agent", at: "2026-11-24T00:00:00Z", interfaces: [{ name: "eth0", mac: "02:00:00:00:00:01", mtu, addresses: [] }] },
});

describe("FileGuestStore", () => {
  it("keeps the latest report per VM across a restart", async () => {
    const path = join(work.path, "a", "guests.json");
    const store = await FileGuestStore.open(path, { flushDelayMs: 10 });
    store.put(record("vm-1", 1500));
    store.put(record("vm-1", 1442));
    store.put(record("vm-2", 9000));
    await store.close();
    const again = await FileGuestStore.open(path);
    expect(again.get("vm-1")!.observed.interfaces[0]!.mtu).toBe(1442);
    expect(again.all().map((r) => r.vmId).sort()).toEqual(["vm-1", "vm-2"]);
  });

  it("ignores a temporary file left by a crash in the middle of a write", async () => {
    const path = join(work.path, "b.json");
    const store = await FileGuestStore.open(path);
    store.put(record("vm-1", 1500));
    await store.flush();
    const torn = join(work.path, ".b.json.99999.tmp"); // what a process killed mid-write leaves behind
    writeFileSync(torn, '{"version": 1, "records": [{"vmId": "vm-1", "obs');
    const again = await FileGuestStore.open(path);
    expect(again.get("vm-1")!.observed.interfaces[0]!.mtu).toBe(1500);
    store.put(record("vm-1", 1400));
    await store.flush();
    expect(existsSync(torn)).toBe(true); // never read, never mistaken for the store
    expect(JSON.parse(readFileSync(path, "utf8")).records[0].observed.interfaces[0].mtu).toBe(1400);
  });

  it("refuses to start over a file that is not a store, instead of silently emptying it", async () => {
    const path = join(work.path, "c.json");
    writeFileSync(path, JSON.stringify({ something: "else" }));
    await expect(FileGuestStore.open(path)).rejects.toThrow(/not a guest state file/);
  });

  it("drops oversized raw answers and forgets VMs that left the inventory", async () => {
    const path = join(work.path, "d.json");
    const store = await FileGuestStore.open(path, { maxRawBytesPerVm: 100 });
    store.put({ ...record("vm-1", 1500), raw: { big: "x".repeat(1000) } });
    store.put(record("vm-2", 1500));
    expect(store.get("vm-1")!.raw).toEqual({ note: expect.stringMatching(/dropped \(limit 100\)/) });
    store.retain(new Set(["vm-1"]));
    expect(store.get("vm-2")).toBeUndefined();
    await store.close();
  });

  it("moves its revision on every put and every record retain drops, and only then", async () => {
    const store = await FileGuestStore.open(join(work.path, "e.json"), { flushDelayMs: 10 });
    const r0 = store.revision;
    store.put(record("vm-1", 1500));
    store.put(record("vm-2", 1500));
    const r2 = store.revision;
    expect(r2).toBeGreaterThan(r0);
    store.put(record("vm-1", 1500)); // a repeated report is still a new report (its time differs in life)
    expect(store.revision).toBeGreaterThan(r2);
    const r3 = store.revision;
    store.retain(new Set(["vm-1", "vm-2"])); // nothing dropped
    store.get("vm-1");
    store.all();
    expect(store.revision).toBe(r3);
    store.retain(new Set(["vm-1"]));
    expect(store.revision).toBeGreaterThan(r3);
    await store.close();
  });
});
