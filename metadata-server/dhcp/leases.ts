// Lease store for the optional dynamic ranges. Reservations never appear here: the inventory is
// their record. The table is in memory; every change that binds or frees an address is written
// to disk before the reply that depends on it goes out, crash-safely: write a temporary file,
// fsync it, rename it over the old one, fsync the directory. A crash leaves either the old file
// or the new one, never a torn one.
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../state/durable.ts";
import { z } from "zod";
import type { Lease, LeaseEffect, LeaseView } from "./server-logic.ts";

const LeaseSchema = z.object({
  network: z.string(),
  address: z.string(),
  clientKey: z.string(),
  mac: z.string(),
  state: z.enum(["offered", "bound", "declined"]),
  expiresAt: z.number(),
});
export const LeaseFileSchema = z.object({ version: z.literal(1), leases: z.array(LeaseSchema) });

export class LeaseTable implements LeaseView {
  private readonly byAddr = new Map<string, Lease>();
  private readonly byKey = new Map<string, Lease>();

  private static k(network: string, s: string): string {
    return `${network}\u0000${s}`;
  }

  byClient(network: string, clientKey: string): Lease | undefined {
    return this.byKey.get(LeaseTable.k(network, clientKey));
  }

  byAddress(network: string, address: string): Lease | undefined {
    return this.byAddr.get(LeaseTable.k(network, address));
  }

  get size(): number {
    return this.byAddr.size;
  }

  all(): Lease[] {
    return [...this.byAddr.values()];
  }

  private put(l: Lease): void {
    const old = this.byKey.get(LeaseTable.k(l.network, l.clientKey));
    if (old && old.address !== l.address) this.byAddr.delete(LeaseTable.k(old.network, old.address));
    const prev = this.byAddr.get(LeaseTable.k(l.network, l.address));
    if (prev && prev.clientKey !== l.clientKey) this.byKey.delete(LeaseTable.k(prev.network, prev.clientKey));
    this.byAddr.set(LeaseTable.k(l.network, l.address), l);
    // A declined address belongs to nobody; keeping it off the client index makes the client's
    // next DISCOVER pick another address.
    if (l.state !== "declined") this.byKey.set(LeaseTable.k(l.network, l.clientKey), l);
    else this.byKey.delete(LeaseTable.k(l.network, l.clientKey));
  }

  /** Applies effects; returns true when something durable (a bind, release or decline) changed. */
  apply(effects: readonly LeaseEffect[]): boolean {
    let durable = false;
    for (const e of effects) {
      switch (e.kind) {
        case "hold":
          this.put(e.lease);
          break;
        case "bind":
        case "decline":
          this.put(e.lease);
          durable = true;
          break;
        case "release": {
          const l = this.byAddress(e.network, e.address);
          if (l && l.clientKey === e.clientKey) {
            this.byAddr.delete(LeaseTable.k(e.network, e.address));
            this.byKey.delete(LeaseTable.k(e.network, e.clientKey));
            durable = true;
          }
          break;
        }
      }
    }
    return durable;
  }

  /** Drops expired entries; returns how many were removed. */
  expire(now: number): number {
    let n = 0;
    for (const [k, l] of this.byAddr) {
      if (l.expiresAt <= now) {
        this.byAddr.delete(k);
        const kk = LeaseTable.k(l.network, l.clientKey);
        if (this.byKey.get(kk) === l) this.byKey.delete(kk);
        n++;
      }
    }
    return n;
  }

  /** Only bound and declined leases are durable; offers are cheap to lose. */
  toJSON(): z.infer<typeof LeaseFileSchema> {
    return { version: 1, leases: this.all().filter((l) => l.state !== "offered") };
  }

  static fromJSON(data: unknown): LeaseTable {
    const parsed = LeaseFileSchema.parse(data);
    const t = new LeaseTable();
    for (const l of parsed.leases) t.put(l);
    return t;
  }
}


/**
 * A lease table persisted to one JSON file. Concurrent saves coalesce: while one write runs, later
 * requests share the next write, so a burst of ACKs costs two fsyncs rather than one per ACK.
 */
export class PersistentLeases {
  private writing: Promise<void> | undefined;
  private pending: Promise<void> | undefined;

  constructor(readonly table: LeaseTable, readonly path: string) {}

  static async load(path: string): Promise<PersistentLeases> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new PersistentLeases(new LeaseTable(), path);
      throw e;
    }
    return new PersistentLeases(LeaseTable.fromJSON(JSON.parse(text)), path);
  }

  save(): Promise<void> {
    if (!this.writing) {
      this.writing = writeFileAtomic(this.path, JSON.stringify(this.table.toJSON())).finally(() => { this.writing = undefined; });
      return this.writing;
    }
    if (!this.pending) {
      this.pending = this.writing.catch(() => undefined).then(() => {
        this.pending = undefined;
        return this.save();
      });
    }
    return this.pending;
  }
}
