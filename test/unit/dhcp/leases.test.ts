import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LeaseTable, PersistentLeases } from "../../../metadata-server/dhcp/leases.ts";
import { writeFileAtomic } from "../../../metadata-server/state/durable.ts";
import type { Lease } from "../../../metadata-server/dhcp/server-logic.ts";

const lease = (address: string, clientKey: string, state: Lease["state"] = "bound", expiresAt = 2000): Lease =>
  ({ network: "pool", address, clientKey, mac: "02:00:00:00:aa:01", state, expiresAt });

describe("lease table", () => {
  it("indexes by client and address, moves a client to its new address, and expires", () => {
    const t = new LeaseTable();
    t.apply([{ kind: "bind", lease: lease("198.51.100.100", "mac:a") }]);
    t.apply([{ kind: "bind", lease: lease("198.51.100.101", "mac:a") }]);
    expect(t.byAddress("pool", "198.51.100.100")).toBeUndefined();
    expect(t.byClient("pool", "mac:a")?.address).toBe("198.51.100.101");
    expect(t.apply([{ kind: "hold", lease: lease("198.51.100.102", "mac:b", "offered", 1000) }])).toBe(false);
    expect(t.expire(1500)).toBe(1);
    expect(t.byClient("pool", "mac:b")).toBeUndefined();
    expect(t.apply([{ kind: "release", network: "pool", address: "198.51.100.101", clientKey: "mac:other" }])).toBe(false);
    expect(t.apply([{ kind: "release", network: "pool", address: "198.51.100.101", clientKey: "mac:a" }])).toBe(true);
    expect(t.size).toBe(0);
  });

  it("keeps a declined address off the client's index", () => {
    const t = new LeaseTable();
    t.apply([{ kind: "bind", lease: lease("198.51.100.100", "mac:a") }]);
    t.apply([{ kind: "decline", lease: lease("198.51.100.100", "mac:a", "declined") }]);
    expect(t.byClient("pool", "mac:a")).toBeUndefined();
    expect(t.byAddress("pool", "198.51.100.100")?.state).toBe("declined");
  });

  it("persists bound and declined leases, not offers, and loads them back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gl-leases-"));
    const path = join(dir, "leases.json");
    const p = await PersistentLeases.load(path);
    expect(p.table.size).toBe(0);
    p.table.apply([
      { kind: "bind", lease: lease("198.51.100.100", "mac:a") },
      { kind: "hold", lease: lease("198.51.100.101", "mac:b", "offered") },
      { kind: "decline", lease: lease("198.51.100.102", "mac:c", "declined") },
    ]);
    // Concurrent saves coalesce and all resolve.
    await Promise.all([p.save(), p.save(), p.save()]);
    const back = await PersistentLeases.load(path);
    expect(back.table.all().map((l) => l.address).sort()).toEqual(["198.51.100.100", "198.51.100.102"]);
    expect(readdirSync(dir)).toEqual(["leases.json"]); // no temporary file left behind
  });

  it("refuses a corrupt lease file instead of starting empty", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gl-leases-"));
    const path = join(dir, "leases.json");
    await writeFileAtomic(path, JSON.stringify({ version: 1, leases: [{ address: 5 }] }));
    await expect(PersistentLeases.load(path)).rejects.toThrow();
    await writeFileAtomic(path, "replaced");
    expect(readFileSync(path, "utf8")).toBe("replaced");
  });
});
