// The guest state store: the latest report per VM, where it came from and when, and the raw
// answers behind it. The interface is what the API, the console and the consistency check use;
// FileGuestStore is the embedded default. A distributed store implements the same interface.
//
// FileGuestStore keeps every record in memory and makes it durable with a write-ahead journal:
// each put appends one JSON line, and the lines of all puts that arrive while a write is under
// way go out together in the next write and share its fdatasync (group commit). A put's promise
// resolves once its line is on disk, and only then does the agent get its ack, so an
// acknowledged report survives kill -9 and a power cut. The journal is folded into a snapshot
// (guests.json) now and then, so start-up replays a bounded journal and the file never grows
// without end.
import { mkdir, open, readFile, unlink, readdir, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import type { ObservedGuest } from "../observe/types.ts";
import { writeFileAtomic } from "../state/durable.ts";

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
  /**
   * Stores a record at once (get() sees it on return) and resolves once it is durable. Throws a
   * StoreLimitError at once, storing nothing, when the record is over a limit; rejects with the
   * I/O error when it could not be written (the record stays in memory and goes out with the
   * next write or snapshot).
   */
  put(record: GuestRecord, rawBytes?: number): Promise<void>;
  /**
   * Follows the inventory: a VM not in `vmIds` keeps its record for a grace period (an edit that
   * drops VMs by mistake and is reverted loses nothing), then loses it.
   */
  retain(vmIds: ReadonlySet<string>, now?: number): void;
  /** Resolves once everything put so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface FileGuestStoreOptions {
  /** Raw answers larger than this (JSON bytes) are replaced by a note, so a guest cannot bloat the file. */
  maxRawBytesPerVm?: number;
  /** One record (as its journal line) larger than this is refused. */
  maxRecordBytes?: number;
  /** All records together; a put that would grow the store past it is refused. */
  maxTotalBytes?: number;
  /** The journal is folded into the snapshot once it holds this many bytes... */
  compactJournalBytes?: number;
  /** ...or once its oldest line is this old. */
  compactIntervalMs?: number;
  /** How long a VM missing from the inventory keeps its record. */
  missingGraceMs?: number;
  /** Told of what start-up found: a torn journal tail it cut, stale journals it removed. */
  log?: (level: "info" | "warn", event: string, fields: Record<string, unknown>) => void;
}

export const GUEST_STORE_DEFAULTS = {
  maxRawBytesPerVm: 256 * 1024,
  maxRecordBytes: 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  compactJournalBytes: 32 * 1024 * 1024,
  compactIntervalMs: 60_000,
  missingGraceMs: 60 * 60_000,
} as const;

/** A record refused for its size: the caller answers the guest with it and flags the VM. */
export class StoreLimitError extends Error {
  constructor(readonly limit: "maxRecordBytes" | "maxTotalBytes", message: string) {
    super(message);
  }
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
/** Version 1 had no journal; version 2 names the journal generation that follows the snapshot. */
const SnapshotSchema = z.object({ version: z.union([z.literal(1), z.literal(2)]), journal: z.int().min(0).optional(), records: z.array(RecordSchema) });
const JournalLine = z.union([
  z.object({ put: RecordSchema }),
  z.object({ drop: z.string() }),
]);

interface Stored { record: GuestRecord; bytes: number }
interface Waiter { resolve: () => void; reject: (err: Error) => void }

export class FileGuestStore implements GuestStateStore {
  private readonly records = new Map<string, Stored>();
  private totalBytes = 0;
  private changes = 0;
  private readonly opts: Required<Omit<FileGuestStoreOptions, "log">> & Pick<FileGuestStoreOptions, "log">;
  /** VMs missing from the inventory, since when. */
  private readonly missingSince = new Map<string, number>();

  // The journal: lines waiting for the next write, and who waits for them.
  private generation = 0;
  private journal: FileHandle | undefined;
  private journalBytes = 0;
  private journalOpenedAt = Date.now();
  private pendingLines: string[] = [];
  private pendingWaiters: Waiter[] = [];
  /** The write chain: one write (or snapshot) at a time, in order. */
  private writing: Promise<void> | undefined;
  private closed = false;

  private constructor(private readonly path: string, opts: FileGuestStoreOptions) {
    this.opts = { ...GUEST_STORE_DEFAULTS, ...opts };
  }

  private journalPath(generation: number): string {
    return join(dirname(this.path), `${basename(this.path)}.${generation}.journal`);
  }

  /**
   * Opens the store: the snapshot, then the journal that follows it, replayed up to its first line
   * that is not whole (what a crash in the middle of a write leaves; everything acknowledged lies
   * before it). A missing snapshot is an empty store, an unreadable one an error (never silently
   * reset).
   */
  static async open(path: string, opts: FileGuestStoreOptions = {}): Promise<FileGuestStore> {
    const store = new FileGuestStore(path, opts);
    const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => { if (err.code === "ENOENT") return undefined; throw err; });
    if (text !== undefined) {
      let json: unknown;
      try { json = JSON.parse(text); } catch { throw new Error(`${path}: not a guest state file: not JSON`); }
      const parsed = SnapshotSchema.safeParse(json);
      if (!parsed.success) throw new Error(`${path}: not a guest state file: ${parsed.error.issues[0]?.message}`);
      for (const r of parsed.data.records) store.set(r as GuestRecord, Buffer.byteLength(JSON.stringify(r)));
      store.generation = parsed.data.journal ?? 0;
    }
    await store.replay();
    await store.removeStaleJournals();
    await mkdir(dirname(path), { recursive: true });
    store.journal = await openJournal(store.journalPath(store.generation), "a");
    return store;
  }

  private async replay(): Promise<void> {
    const path = this.journalPath(this.generation);
    const data = await readFile(path).catch((err: NodeJS.ErrnoException) => { if (err.code === "ENOENT") return undefined; throw err; });
    if (!data) return;
    let good = 0;
    let lines = 0;
    while (good < data.length) {
      const nl = data.indexOf(0x0a, good);
      if (nl < 0) break;
      const line = JournalLine.safeParse(safeJson(data.subarray(good, nl).toString("utf8")));
      if (!line.success) break;
      if ("put" in line.data) this.set(line.data.put as GuestRecord, nl - good + 1);
      else this.delete(line.data.drop);
      good = nl + 1;
      lines++;
    }
    this.journalBytes = good;
    if (good < data.length) {
      // Appending after a torn tail would glue the next line to it: cut the file back first.
      const fh = await open(path, "r+");
      try { await fh.truncate(good); await fh.sync(); } finally { await fh.close(); }
      this.opts.log?.("warn", "store.journal_tail_cut", { journal: path, replayedLines: lines, cutBytes: data.length - good });
    }
  }

  private async removeStaleJournals(): Promise<void> {
    const prefix = `${basename(this.path)}.`;
    const current = basename(this.journalPath(this.generation));
    for (const name of await readdir(dirname(this.path)).catch(() => [] as string[])) {
      if (name.startsWith(prefix) && name.endsWith(".journal") && name !== current) {
        await unlink(join(dirname(this.path), name)).catch(() => undefined);
        this.opts.log?.("info", "store.stale_journal_removed", { journal: name });
      }
    }
  }

  get revision(): number {
    return this.changes;
  }

  /** Bytes the records take as JSON: what maxTotalBytes bounds. */
  get bytes(): number {
    return this.totalBytes;
  }

  get(vmId: string): GuestRecord | undefined {
    return this.records.get(vmId)?.record;
  }

  all(): GuestRecord[] {
    return [...this.records.values()].map((s) => s.record);
  }

  /** `rawBytes`, when the caller knows it (the frame it parsed), spares serialising `raw` to measure it. */
  put(record: GuestRecord, rawBytes?: number): Promise<void> {
    const { maxRawBytesPerVm, maxRecordBytes, maxTotalBytes } = this.opts;
    const rawSize = rawBytes ?? Buffer.byteLength(JSON.stringify(record.raw));
    const raw = rawSize > maxRawBytesPerVm ? { note: `raw answers of ${rawSize} bytes dropped (limit ${maxRawBytesPerVm})` } : record.raw;
    const stored = { ...record, raw };
    const line = JSON.stringify({ put: stored }) + "\n";
    const bytes = Buffer.byteLength(line);
    if (bytes > maxRecordBytes) {
      throw new StoreLimitError("maxRecordBytes", `a record of ${bytes} bytes is over the limit of ${maxRecordBytes} (maxRecordBytes)`);
    }
    const growth = bytes - (this.records.get(record.vmId)?.bytes ?? 0);
    if (growth > 0 && this.totalBytes + growth > maxTotalBytes) {
      throw new StoreLimitError("maxTotalBytes", `the guest store holds ${this.totalBytes} bytes; this record would take it past ${maxTotalBytes} (maxTotalBytes)`);
    }
    this.set(stored, bytes);
    this.missingSince.delete(record.vmId);
    return this.append(line);
  }

  retain(vmIds: ReadonlySet<string>, now = Date.now()): void {
    for (const id of vmIds) this.missingSince.delete(id);
    for (const id of this.records.keys()) {
      if (vmIds.has(id)) continue;
      const since = this.missingSince.get(id) ?? now;
      if (now - since < this.opts.missingGraceMs) this.missingSince.set(id, since);
      else {
        this.missingSince.delete(id);
        this.delete(id);
        void this.append(JSON.stringify({ drop: id }) + "\n").catch(() => undefined); // re-dropped at the next retain if lost
      }
    }
  }

  /** VMs whose records are kept past their removal from the inventory, with when they went missing. */
  retained(): ReadonlyMap<string, number> {
    return this.missingSince;
  }

  async flush(): Promise<void> {
    if (this.pendingLines.length) await this.append("");
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.journal?.close();
    this.journal = undefined;
  }

  private set(record: GuestRecord, bytes: number): void {
    this.totalBytes += bytes - (this.records.get(record.vmId)?.bytes ?? 0);
    this.records.set(record.vmId, { record, bytes });
    this.changes++;
  }

  private delete(vmId: string): void {
    const old = this.records.get(vmId);
    if (!old) return;
    this.totalBytes -= old.bytes;
    this.records.delete(vmId);
    this.changes++;
  }

  /** Queues a line for the next group write and resolves once that write is durable. */
  private append(line: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the guest store is closed"));
    return new Promise<void>((resolve, reject) => {
      if (line) this.pendingLines.push(line);
      this.pendingWaiters.push({ resolve, reject });
      if (!this.writing) this.writing = this.writeLoop();
    });
  }

  /**
   * Writes batch after batch until nothing is pending. Each batch is what queued up while the
   * previous one was being written: at 20,000 reports/s that is hundreds of lines per fdatasync.
   */
  private async writeLoop(): Promise<void> {
    // Let the reports already read from the sockets in this turn join the first batch.
    await new Promise((r) => setImmediate(r));
    while (this.pendingWaiters.length) {
      const lines = this.pendingLines;
      const waiters = this.pendingWaiters;
      this.pendingLines = [];
      this.pendingWaiters = [];
      try {
        if (lines.length) await this.writeBatch(lines.join(""));
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err as Error);
      }
      if (this.journalBytes >= this.opts.compactJournalBytes || (this.journalBytes > 0 && Date.now() - this.journalOpenedAt >= this.opts.compactIntervalMs)) {
        await this.compact().catch((err: Error) => this.opts.log?.("warn", "store.compaction_failed", { error: err.message }));
      }
    }
    this.writing = undefined;
  }

  private async writeBatch(text: string): Promise<void> {
    const fh = this.journal!;
    const data = Buffer.from(text, "utf8");
    try {
      await fh.write(data, 0, data.length, null);
      await fh.datasync();
      this.journalBytes += data.length;
    } catch (err) {
      // A half-written batch must not stay in front of the next one: cut back to the last whole line.
      await fh.truncate(this.journalBytes).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Folds the journal into a new snapshot. The snapshot names the next journal generation before
   * that journal takes any line, so a crash at any step leaves a snapshot and the one journal
   * that follows it: the old pair, or the new one.
   */
  private async compact(): Promise<void> {
    const next = this.generation + 1;
    await writeFileAtomic(this.path, JSON.stringify({ version: 2, journal: next, records: this.all() }));
    const old = this.journal!;
    this.journal = await openJournal(this.journalPath(next), "w");
    const oldPath = this.journalPath(this.generation);
    this.generation = next;
    this.journalBytes = 0;
    this.journalOpenedAt = Date.now();
    await old.close();
    await unlink(oldPath).catch(() => undefined);
  }
}

/** Opens a journal and makes its directory entry durable, so a power cut cannot lose the file its lines went to. */
async function openJournal(path: string, flags: "a" | "w"): Promise<FileHandle> {
  const fh = await open(path, flags, 0o600);
  const dir = await open(dirname(path), "r");
  try { await dir.sync(); } finally { await dir.close(); }
  return fh;
}

function safeJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return undefined; }
}
