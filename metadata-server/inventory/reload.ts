// Live reload of the inventory file, shared by `guestlink serve` (site-store.ts) and `guestlink
// dhcp` (dhcp/daemon.ts): watch the directory, debounce the burst of events a save makes, run at
// most one load at a time (later requests coalesce into one more), and judge only a file that
// has settled. What "judge" means (publish, keep the last good, log) is the caller's.
//
// Settled, the scheme: stat (size, mtime in ns, inode, device) before the load and again after
// it; the load counts only if both agree (nothing wrote during the read) AND the file has been
// unchanged for the whole quiet window: by its own mtime when that is at least the window old,
// else by waiting out the rest of the window and finding the same stat again. Anything else is
// retried a window later. Why stat and not only the change events: events say something
// happened but not that the writer is done, a SIGHUP comes with no event at all, and a load
// racing a write reads a torn file that can still be valid YAML (the first VMs of a longer
// list). Why mtime plus a re-stat rather than a content hash: a stat costs nothing next to a
// load, a paused writer changes size and mtime when it resumes, and a clock that disagrees with
// the file's mtime (a future mtime from a skewed NFS server) only costs one more window, never
// a wrong verdict. The limit of any scheme: a writer that pauses longer than the window in the
// middle of an in-place write is indistinguishable from one that finished; write a new file and
// rename it over the old one (what editors and config managers do), or raise the window.
import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";

/** Quiet time a file must stay unchanged before it is loaded and judged (and the debounce of change events), ms. */
export const DEFAULT_QUIET_MS = 1000;

export type ReloadLog = (level: "debug" | "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => void;

export interface FileReloaderOptions<L, R> {
  /** The file to watch and stat; `load` reads it. */
  path: string;
  load: () => Promise<L>;
  /** The verdict on a settled load: publish it or keep the last good. Runs once per settled load. */
  judge: (loaded: L, reason: string) => R | Promise<R>;
  /** What a reload that was abandoned (close() while waiting for the file to settle) resolves to. */
  abandoned: R;
  quietMs?: number;
  /** Event names are the caller's (serve and dhcp log in their own vocabularies). */
  log: ReloadLog;
  /** The reason given for a reload a change event started, and the names of the events logged here. */
  events: { fileChanged: string; unsettled: string; watchFailed: string };
  now?: () => number;
}

/** What a stat says about a file's content, or why there is none (a missing file is settled too: its load says so). */
interface Signature { key: string; mtimeMs: number | undefined }

async function signature(path: string): Promise<Signature> {
  try {
    const s = await stat(path, { bigint: true });
    return { key: `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`, mtimeMs: Number(s.mtimeNs / 1_000_000n) };
  } catch (err) {
    return { key: `error:${(err as NodeJS.ErrnoException).code ?? "unknown"}`, mtimeMs: undefined };
  }
}

export class FileReloader<L, R> {
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<R> | undefined;
  private again: string | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly quietMs: number;
  private readonly now: () => number;

  constructor(private readonly o: FileReloaderOptions<L, R>) {
    this.quietMs = o.quietMs ?? DEFAULT_QUIET_MS;
    this.now = o.now ?? Date.now;
  }

  /**
   * Loads and judges the file once it has settled. Concurrent calls coalesce: at most one load
   * runs, and one more follows it. `settle: "read"` only requires the file unchanged across the
   * read (start-up: there is no last good revision to keep serving while waiting).
   */
  reload(reason: string, settle: "quiet" | "read" = "quiet"): Promise<R> {
    if (this.running) {
      this.again ??= `${reason} (coalesced)`;
      return this.running;
    }
    this.running = this.loadSettled(reason, settle).then((r) => (r ? this.o.judge(r.loaded, reason) : this.o.abandoned)).finally(() => {
      this.running = undefined;
      const next = this.again;
      this.again = undefined;
      if (next !== undefined && !this.closed) void this.reload(next);
    });
    return this.running;
  }

  /** Reloads on changes to the file: the directory is watched, the events debounced by the quiet window. */
  watch(): void {
    const name = basename(this.o.path);
    try {
      // The directory, not the file: editors and config managers replace the file by renaming a
      // new one over it, after which a watch on the old inode would never fire again.
      this.watcher = watch(dirname(this.o.path), { persistent: false }, (_event, file) => {
        if (file !== null && file.toString() !== name) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload(this.o.events.fileChanged), this.quietMs);
        this.debounce.unref();
      });
      this.watcher.on("error", (err) => this.o.log("warn", this.o.events.watchFailed, { path: this.o.path, error: err.message }));
    } catch (err) {
      this.o.log("warn", this.o.events.watchFailed, { path: this.o.path, error: (err as Error).message, hint: "send SIGHUP to reload" });
    }
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.debounce) clearTimeout(this.debounce);
    this.wake?.();
  }

  /** One load of a settled file, not judged and not coalesced; undefined if close() came first. */
  async loadSettled(reason: string, settle: "quiet" | "read" = "quiet"): Promise<{ loaded: L } | undefined> {
    for (let attempt = 1; !this.closed; attempt++) {
      const before = await signature(this.o.path);
      const loaded = await this.o.load();
      const after = await signature(this.o.path);
      let settled = before.key === after.key;
      if (settled && settle === "quiet") {
        // Age by the file's own clock; a future mtime (clock skew) counts as "just now".
        const age = before.mtimeMs === undefined ? Infinity : Math.max(0, this.now() - before.mtimeMs);
        if (age < this.quietMs) {
          await this.sleep(this.quietMs - age);
          settled = !this.closed && (await signature(this.o.path)).key === before.key;
        }
      }
      if (settled) return { loaded };
      if (this.closed) break;
      this.o.log(attempt === 1 ? "debug" : "info", this.o.events.unsettled, { reason, path: this.o.path, attempt, retryInMs: this.quietMs });
      await this.sleep(this.quietMs);
    }
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = undefined; resolve(); }, ms);
      this.wake = () => { clearTimeout(timer); this.wake = undefined; resolve(); };
    });
  }
}
