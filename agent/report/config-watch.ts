// Waits for a file that does not exist yet, without polling. On first boot udev starts the agent as
// soon as the virtio port appears, well before cloud-init's write_files creates the reporting
// config, so the agent has to notice the file when it is written rather than only at start-up.
//
// inotify cannot watch a path that does not exist, so the nearest existing ancestor directory is
// watched instead (/etc until /etc/guestlink exists, then /etc/guestlink), moving deeper as
// directories appear. Every event only re-checks; the caller decides whether the file is usable,
// and a file it rejects keeps the watch, so a corrected file is still picked up.
import { existsSync, watch as fsWatch } from "node:fs";
import { dirname } from "node:path";

export interface Watcher { close(): void }

/** Calls `onEvent` on any change inside `dir`; `onError` when the watch itself fails. */
export type WatchDirectory = (dir: string, onEvent: () => void, onError: (err: Error) => void) => Watcher;

export const watchDirectory: WatchDirectory = (dir, onEvent, onError) => {
  // Not persistent: the agent lives for its channel, and a watch alone must not keep it running.
  const w = fsWatch(dir, { persistent: false }, () => onEvent());
  w.on("error", onError);
  return w;
};

export interface WhenFileAppearsOptions {
  watch?: WatchDirectory;
  exists?: (path: string) => boolean;
  /**
   * Delay between an event and the check it causes. A writer creates the file (one event), then
   * writes and chmods it (more events); checking after the burst mostly spares the caller a
   * half-written file. Events after that still cause a check, so nothing is missed.
   */
  settleMs?: number;
  /** A watch that could not be set up or broke, or `onAppear` throwing. */
  onError?: (err: Error) => void;
}

export interface FileWaiter {
  /** Checks now (the agent's SIGHUP): a way in when an event was lost or the watch failed. */
  check(): void;
  stop(): void;
  /** The directory being watched, undefined once stopped. */
  readonly watching: string | undefined;
}

export const DEFAULT_SETTLE_MS = 100;

/**
 * Calls `onAppear` when `path` exists (at once if it already does, else after the events that
 * created it). `onAppear` answers whether it is done with the file: true ends the watch, false
 * (the file is not usable yet) keeps it. It is never called twice at the same time.
 */
export function whenFileAppears(path: string, onAppear: () => boolean | Promise<boolean>, options: WhenFileAppearsOptions = {}): FileWaiter {
  const watch = options.watch ?? watchDirectory;
  const exists = options.exists ?? existsSync;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const reportError = options.onError ?? (() => {});
  let watcher: Watcher | undefined;
  let watched: string | undefined;
  let stopped = false;
  let running = false;
  let checkAgain = false;
  let timer: NodeJS.Timeout | undefined;

  const nearestExistingDir = (): string => {
    let dir = dirname(path);
    while (!exists(dir) && dirname(dir) !== dir) dir = dirname(dir);
    return dir;
  };

  const unwatch = (): void => {
    watcher?.close();
    watcher = undefined;
    watched = undefined;
  };

  const retarget = (): void => {
    // Watch first, look second: a directory created before the watch was set up is found by the
    // next look, one created after it raises an event.
    for (;;) {
      const dir = nearestExistingDir();
      if (watcher && dir === watched) return;
      unwatch();
      try {
        const w = watch(dir, schedule, (err) => {
          reportError(err);
          // Dropped rather than re-armed here, so a watch that keeps failing cannot loop; the next
          // check (SIGHUP, as no more events come) sets up a fresh one.
          if (watcher === w) unwatch();
        });
        watcher = w;
        watched = dir;
      } catch (err) {
        reportError(err as Error);
        return;
      }
    }
  };

  function schedule(): void {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      check();
    }, settleMs);
  }

  function check(): void {
    if (stopped) return;
    if (running) {
      checkAgain = true;
      return;
    }
    retarget();
    if (!exists(path)) return;
    running = true;
    checkAgain = false;
    void Promise.resolve()
      .then(onAppear)
      .catch((err: unknown) => {
        reportError(err instanceof Error ? err : new Error(String(err)));
        return false;
      })
      .then((done) => {
        running = false;
        if (done) stop();
        else if (checkAgain) check();
      });
  }

  function stop(): void {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    unwatch();
  }

  check();
  return { check, stop, get watching() { return watched; } };
}
