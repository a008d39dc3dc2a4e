// The guest state store: the latest report per VM, where it came from and when, and the raw
// answers behind it. The interface is what the API, the console and the consistency check use;
// FileGuestStore is the embedded default (one JSON file in the state directory). A distributed
// store implements the same interface.
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../state/durable.ts";
import { z } from "zod";
import type { ObservedGuest } from "../observe/types.ts";

export interface GuestRecord {
  vmId: string;
  observed: ObservedGuest;
  /** Raw last answers by command, for diagnosis. */
  raw: Record<string, unknown>;
  receivedAt: string;
}

export interface GuestStateStore {
  /**
   * Goes up whenever the set of records changes (every put, every record retain drops), so a
   * reader can tell "nothing changed since I last looked" with one comparison. Equal revisions of
   * one store mean the same records; it says nothing across stores or restarts.
   */
  readonly revision: number;
  get(vmId: string): GuestRecord | undefined;
  all(): GuestRecord[];
  put(record: GuestRecord, rawBytes?: number): void;
  /** Drops VMs that are no longer in the inventory. */
  retain(vmIds: ReadonlySet<string>): void;
  /** Resolves once everything put so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface FileGuestStoreOptions {
  /** Writes are batched: at most one every flushDelayMs, so 20,000 reports/s is one write. */
  flushDelayMs?: number;
  /** Raw answers larger than this (JSON bytes) are replaced by a note, so a guest cannot bloat the file. */
  maxRawBytesPerVm?: number;
}

const RecordSchema = z.object({
  vmId: z.string(),
  observed: z.object({
    vmId: z.string(), source: z.string(), at: z.string(), interfaces: z.array(z.any()),
    cloudInit: z.object({ done: z.boolean(), datasource: z.string().optional(), errors: z.array(z.string()) }).optional(),
  }),
  raw: z.record(z.string(), z.unknown()),
  receivedAt: z.string(),
});
const FileSchema = z.object({ version: z.literal(1), records: z.array(RecordSchema) });

export class FileGuestStore implements GuestStateStore {
  private readonly records = new Map<string, GuestRecord>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private changes = 0;
  private readonly flushDelayMs: number;
  private readonly maxRawBytesPerVm: number;

  private constructor(private readonly path: string, opts: FileGuestStoreOptions) {
    this.flushDelayMs = opts.flushDelayMs ?? 500;
    this.maxRawBytesPerVm = opts.maxRawBytesPerVm ?? 256 * 1024;
  }

  /** Opens the store; a missing file is an empty store, an unreadable one is an error (never silently reset). */
  static async open(path: string, opts: FileGuestStoreOptions = {}): Promise<FileGuestStore> {
    const store = new FileGuestStore(path, opts);
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (text !== undefined) {
      const parsed = FileSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`${path}: not a guest state file: ${parsed.error.issues[0]?.message}`);
      for (const r of parsed.data.records) store.records.set(r.vmId, r as GuestRecord);
    }
    return store;
  }

  get revision(): number {
    return this.changes;
  }

  get(vmId: string): GuestRecord | undefined {
    return this.records.get(vmId);
  }

  all(): GuestRecord[] {
    return [...this.records.values()];
  }

  /** `rawBytes`, when the caller knows it (the frame it parsed), spares serialising `raw` to measure it. */
  put(record: GuestRecord, rawBytes?: number): void {
    const rawSize = rawBytes ?? Buffer.byteLength(JSON.stringify(record.raw));
    const raw = rawSize > this.maxRawBytesPerVm ? { note: `raw answers of ${rawSize} bytes dropped (limit ${this.maxRawBytesPerVm})` } : record.raw;
    this.records.set(record.vmId, { ...record, raw });
    this.changes++;
    this.markDirty();
  }

  retain(vmIds: ReadonlySet<string>): void {
    for (const id of this.records.keys()) if (!vmIds.has(id)) { this.records.delete(id); this.changes++; this.dirty = true; }
    if (this.dirty) this.markDirty();
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty) {
      this.dirty = false;
      const snapshot = JSON.stringify({ version: 1, records: this.all() });
      this.writing = this.writing.then(() => writeFileAtomic(this.path, snapshot));
    }
    await this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  private markDirty(): void {
    this.dirty = true;
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush().catch(() => { this.dirty = true; }), this.flushDelayMs);
      this.timer.unref?.();
    }
  }
}
