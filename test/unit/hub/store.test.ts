// The embedded guest state store survives a restart, is never left torn by a crash mid-write,
// acknowledges a put only once it is on disk, and bounds what a guest can make it hold.
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileGuestStore, StoreLimitError, type GuestRecord } from "../../../metadata-server/hub/store.ts";
import { tempDir } from "../../helpers/peers.ts";

const work = tempDir("store");
afterAll(() => work.remove());

const record = (vmId: string, mtu: number): GuestRecord => ({
  vmId, receivedAt: "2026-11-24T00:00:00Z", raw: { "guest-network-get-interfaces": [{ name: "eth0" }] },
  observed: { vmId, source: "agent", at: "2026-11-24T00:00:00Z", interfaces: [{ name: "eth0", mac: "02:00:00:00:00:01", mtu, addresses: [] }] },
});

const journalOf = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".journal")).map((f) => join(dir, f));

describe("FileGuestStore", () => {
  it("keeps the latest report per VM across a restart", async () => {
    const path = join(work.path, "a", "guests.json");
    const store = await FileGuestStore.open(path);
    void store.put(record("vm-1", 1500));
    void store.put(record("vm-1", 1442));
    void store.put(record("vm-2", 9000));
    await store.close();
    const again = await FileGuestStore.open(path);
    expect(again.get("vm-1")!.observed.interfaces[0]!.mtu).toBe(1442);
    expect(again.all().map((r) => r.vmId).sort()).toEqual(["vm-1", "vm-2"]);
    await again.close();
  });

  it("has a put on disk when its promise resolves, with no close or flush (what kill -9 leaves)", async () => {
    const dir = join(work.path, "durable");
    const store = await FileGuestStore.open(join(dir, "guests.json"));
    await store.put(record("vm-1", 1442));
    // A second store opened on the same files is what a restart after kill -9 reads.
    const after = await FileGuestStore.open(join(dir, "guests.json"));
    expect(after.get("vm-1")!.observed.interfaces[0]!.mtu).toBe(1442);
    await Promise.all([store.close(), after.close()]);
  });

  it("writes the puts that arrive together in one group, and resolves each", async () => {
    const dir = join(work.path, "group");
    const store = await FileGuestStore.open(join(dir, "guests.json"));
    await Promise.all(Array.from({ length: 500 }, (_, i) => store.put(record(`vm-${i}`, 1500 + i))));
    const lines = readFileSync(journalOf(dir)[0]!, "utf8").trim().split("\n");
    expect(lines).toHaveLength(500);
    await store.close();
  });

  it("replays a journal up to a torn last line, cuts the tail, and appends cleanly after it", async () => {
    const dir = join(work.path, "torn");
    const path = join(dir, "guests.json");
    const store = await FileGuestStore.open(path);
    await store.put(record("vm-1", 1500));
    await store.put(record("vm-2", 1400));
    await store.close();
    const journal = journalOf(dir)[0]!;
    const whole = statSync(journal).size;
    appendFileSync(journal, '{"put":{"vmId":"vm-3","obs'); // a write cut short by a crash
    const events: string[] = [];
    const again = await FileGuestStore.open(path, { log: (_l, e) => events.push(e) });
    expect(again.all().map((r) => r.vmId).sort()).toEqual(["vm-1", "vm-2"]);
    expect(events).toContain("store.journal_tail_cut");
    expect(statSync(journal).size).toBe(whole);
    await again.put(record("vm-3", 9000));
    await again.close();
    const third = await FileGuestStore.open(path);
    expect(third.get("vm-3")!.observed.interfaces[0]!.mtu).toBe(9000);
    await third.close();
  });

  it("folds the journal into a snapshot when it grows, and loses nothing across the fold", async () => {
    const dir = join(work.path, "compact");
    const path = join(dir, "guests.json");
    const store = await FileGuestStore.open(path, { compactJournalBytes: 4096 });
    for (let i = 0; i < 100; i++) await store.put(record(`vm-${i % 10}`, 1000 + i));
    await store.close();
    expect(existsSync(path)).toBe(true);
    const snapshot = JSON.parse(readFileSync(path, "utf8"));
    expect(snapshot.version).toBe(2);
    const journals = journalOf(dir);
    expect(journals).toEqual([join(dir, `guests.json.${snapshot.journal}.journal`)]); // the old generations are gone
    expect(statSync(journals[0]!).size).toBeLessThan(4096 + 1024);
    const again = await FileGuestStore.open(path);
    for (let v = 0; v < 10; v++) expect(again.get(`vm-${v}`)!.observed.interfaces[0]!.mtu).toBe(1090 + v);
    await again.close();
  });

  it("ignores a journal of another generation: a crash between the snapshot and the switch of journals", async () => {
    const dir = join(work.path, "switch");
    const path = join(dir, "guests.json");
    const store = await FileGuestStore.open(path);
    await store.put(record("vm-1", 1500));
    await store.close();
    // The snapshot names generation 1, whose journal was never created; generation 0's is stale.
    writeFileSync(path, JSON.stringify({ version: 2, journal: 1, records: [record("vm-1", 1442)] }));
    const again = await FileGuestStore.open(path);
    expect(again.get("vm-1")!.observed.interfaces[0]!.mtu).toBe(1442);
    expect(journalOf(dir).map((f) => f.slice(dir.length + 1))).toEqual(["guests.json.1.journal"]);
    await again.close();
  });

  it("reads a version 1 store (no journal) as it was written before", async () => {
    const path = join(work.path, "v1.json");
    writeFileSync(path, JSON.stringify({ version: 1, records: [record("vm-1", 1500)] }));
    const store = await FileGuestStore.open(path);
    expect(store.get("vm-1")!.observed.interfaces[0]!.mtu).toBe(1500);
    await store.close();
  });

  it("refuses to start over a file that is not a store, instead of silently emptying it", async () => {
    const path = join(work.path, "c.json");
    writeFileSync(path, JSON.stringify({ something: "else" }));
    await expect(FileGuestStore.open(path)).rejects.toThrow(/not a guest state file/);
  });

  it("drops oversized raw answers", async () => {
    const store = await FileGuestStore.open(join(work.path, "d.json"), { maxRawBytesPerVm: 100 });
    void store.put({ ...record("vm-1", 1500), raw: { big: "x".repeat(1000) } });
    expect(store.get("vm-1")!.raw).toEqual({ note: expect.stringMatching(/dropped \(limit 100\)/) });
    await store.close();
  });

  it("refuses a record over maxRecordBytes and a store past maxTotalBytes, keeping what it had", async () => {
    const store = await FileGuestStore.open(join(work.path, "limits.json"), { maxRecordBytes: 2048, maxTotalBytes: 1600 });
    const big = (vmId: string, n: number): GuestRecord => ({
      ...record(vmId, 1500),
      observed: { ...record(vmId, 1500).observed, interfaces: Array.from({ length: n }, (_, i) => ({ name: `e${i}`, mac: "02:00:00:00:00:01", addresses: [] })) },
    });
    await store.put(record("vm-1", 1442));
    expect(() => store.put(big("vm-1", 100))).toThrow(StoreLimitError);
    expect(store.get("vm-1")!.observed.interfaces[0]!.mtu).toBe(1442);
    await store.put(big("vm-2", 10));
    expect(() => store.put(big("vm-3", 10))).toThrow(/maxTotalBytes/);
    expect(store.get("vm-3")).toBeUndefined();
    expect(store.bytes).toBeLessThanOrEqual(1600);
    await store.put(record("vm-2", 1500)); // shrinking a record is always allowed
    await store.close();
  });

  it("keeps the record of a VM missing from the inventory for the grace period, then drops it for good", async () => {
    const path = join(work.path, "grace.json");
    const store = await FileGuestStore.open(path, { missingGraceMs: 1000 });
    await store.put(record("vm-1", 1500));
    await store.put(record("vm-2", 1500));
    store.retain(new Set(["vm-1"]), 10_000);
    expect(store.get("vm-2")).toBeDefined(); // a half-written inventory must not cost vm-2 its record
    store.retain(new Set(["vm-1", "vm-2"]), 10_500); // it came back: the clock starts over
    store.retain(new Set(["vm-1"]), 11_000);
    store.retain(new Set(["vm-1"]), 11_900);
    expect(store.get("vm-2")).toBeDefined();
    store.retain(new Set(["vm-1"]), 12_000);
    expect(store.get("vm-2")).toBeUndefined();
    await store.close();
    const again = await FileGuestStore.open(path);
    expect(again.all().map((r) => r.vmId)).toEqual(["vm-1"]);
    await again.close();
  });

  it("moves its revision on every put and every record retain drops, and only then", async () => {
    const store = await FileGuestStore.open(join(work.path, "e.json"), { missingGraceMs: 0 });
    const r0 = store.revision;
    void store.put(record("vm-1", 1500));
    void store.put(record("vm-2", 1500));
    const r2 = store.revision;
    expect(r2).toBeGreaterThan(r0);
    void store.put(record("vm-1", 1500)); // a repeated report is still a new report (its time differs in life)
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
