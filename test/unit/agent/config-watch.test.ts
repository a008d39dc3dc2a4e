// Waiting for the reporting config without polling: the watch follows directories as they are
// created, a file the caller rejects keeps the watch, stop() and success release every watch, and
// an idle waiter has no timer armed.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { watchDirectory, whenFileAppears, type FileWaiter, type WatchDirectory } from "../../../agent/report/config-watch.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "guestlink-config-watch-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The real fs.watch, counting what is opened and closed. */
function countingWatch() {
  const open = new Set<string>();
  let opened = 0;
  const watch: WatchDirectory = (dir, onEvent, onError) => {
    const w = watchDirectory(dir, onEvent, onError);
    const id = `${dir}#${opened++}`;
    open.add(id);
    return { close: () => { open.delete(id); w.close(); } };
  };
  return { watch, open, opened: () => opened };
}

function track(waiter: FileWaiter): FileWaiter {
  cleanups.push(() => waiter.stop());
  return waiter;
}

async function until<T>(what: string, check: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("whenFileAppears", () => {
  it("follows the directories down as they are created, two levels missing, then sees the file", async () => {
    const root = tempDir();
    const path = join(root, "etc", "guestlink", "agent.json");
    const w = countingWatch();
    const seen: string[] = [];
    const waiter = track(whenFileAppears(path, () => { seen.push(readFileSync(path, "utf8")); return true; }, { watch: w.watch, settleMs: 5 }));
    expect(waiter.watching).toBe(root);

    mkdirSync(join(root, "etc"));
    await until("the watch to move to etc", () => waiter.watching === join(root, "etc"));
    mkdirSync(join(root, "etc", "guestlink"));
    await until("the watch to move to etc/guestlink", () => waiter.watching === join(root, "etc", "guestlink"));
    expect(seen).toEqual([]);
    // One watch at a time: moving deeper closed the one above.
    expect(w.open.size).toBe(1);

    writeFileSync(path, '{"ok": true}');
    await until("the file to be taken", () => seen.length === 1);
    expect(seen).toEqual(['{"ok": true}']);
    await until("the watch to end", () => waiter.watching === undefined);
    expect(w.open.size).toBe(0);
    expect(w.opened()).toBe(3);
  });

  it("catches up when the whole path is created in one go", async () => {
    const root = tempDir();
    const path = join(root, "a", "b", "agent.json");
    let calls = 0;
    const waiter = track(whenFileAppears(path, () => { calls++; return true; }, { settleMs: 5 }));
    mkdirSync(join(root, "a", "b"), { recursive: true });
    writeFileSync(path, "{}");
    await until("the file to be taken", () => calls === 1);
    await until("the watch to end", () => waiter.watching === undefined);
  });

  it("keeps watching after a file it rejected, and takes the corrected one", async () => {
    const root = tempDir();
    const path = join(root, "guestlink", "agent.json");
    const w = countingWatch();
    const verdicts: boolean[] = [];
    // Asynchronous, as the agent's is (it imports the reporter first).
    const waiter = track(whenFileAppears(path, async () => {
      await new Promise((r) => setTimeout(r, 1));
      let ok = false;
      try {
        ok = JSON.parse(readFileSync(path, "utf8")).server !== undefined;
      } catch {
        ok = false;
      }
      verdicts.push(ok);
      return ok;
    }, { watch: w.watch, settleMs: 5 }));

    mkdirSync(join(root, "guestlink"));
    writeFileSync(path, '{"server": ');
    await until("the invalid file to be looked at", () => verdicts.length >= 1);
    expect(verdicts.every((v) => !v)).toBe(true);
    expect(waiter.watching).toBe(join(root, "guestlink"));
    expect(w.open.size).toBe(1);

    writeFileSync(path, '{"server": "ws://meta:8775/v1/agent"}');
    await until("the corrected file to be taken", () => verdicts.at(-1) === true);
    await until("the watch to end", () => waiter.watching === undefined);
    expect(w.open.size).toBe(0);
    // Later writes are nobody's business any more.
    const before = verdicts.length;
    writeFileSync(path, "{}");
    await new Promise((r) => setTimeout(r, 50));
    expect(verdicts.length).toBe(before);
  });

  it("stop() closes the watch, and nothing is called afterwards", async () => {
    const root = tempDir();
    const path = join(root, "x", "y", "agent.json");
    const w = countingWatch();
    let calls = 0;
    const waiter = whenFileAppears(path, () => { calls++; return true; }, { watch: w.watch, settleMs: 5 });
    mkdirSync(join(root, "x"));
    await until("the watch to move to x", () => waiter.watching === join(root, "x"));
    expect(w.open.size).toBe(1);

    waiter.stop();
    expect(w.open.size).toBe(0);
    expect(waiter.watching).toBeUndefined();
    mkdirSync(join(root, "x", "y"));
    writeFileSync(path, "{}");
    waiter.check();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(0);
    expect(w.opened()).toBe(2);
  });

  it("takes a file that is already there at once, and keeps no watch", async () => {
    const root = tempDir();
    const path = join(root, "agent.json");
    writeFileSync(path, "{}");
    const w = countingWatch();
    let calls = 0;
    const waiter = track(whenFileAppears(path, () => { calls++; return true; }, { watch: w.watch }));
    await until("the file to be taken", () => calls === 1);
    expect(waiter.watching).toBeUndefined();
    expect(w.open.size).toBe(0);
  });

  it("finds its way back up when the watched directory is removed", async () => {
    const root = tempDir();
    mkdirSync(join(root, "etc", "guestlink"), { recursive: true });
    const path = join(root, "etc", "guestlink", "agent.json");
    let calls = 0;
    const waiter = track(whenFileAppears(path, () => { calls++; return true; }, { settleMs: 5 }));
    expect(waiter.watching).toBe(join(root, "etc", "guestlink"));
    rmSync(join(root, "etc"), { recursive: true });
    await until("the watch to move up", () => waiter.watching === root);
    mkdirSync(join(root, "etc", "guestlink"), { recursive: true });
    writeFileSync(path, "{}");
    await until("the file to be taken", () => calls === 1);
  });
});

describe("whenFileAppears with injected fs", () => {
  /** A file system of known paths and watches whose events the test fires. */
  function fakeFs(paths: string[]) {
    const present = new Set(paths);
    const watches = new Map<string, { onEvent: () => void; onError: (e: Error) => void }>();
    const watch: WatchDirectory = (dir, onEvent, onError) => {
      watches.set(dir, { onEvent, onError });
      return { close: () => watches.delete(dir) };
    };
    return { present, watches, watch, exists: (p: string) => present.has(p) };
  }

  it("arms no timer while idle: one only after an event, and none again after the check", async () => {
    vi.useFakeTimers();
    const fs = fakeFs(["/"]);
    let calls = 0;
    const waiter = whenFileAppears("/etc/guestlink/agent.json", () => { calls++; return true; }, { watch: fs.watch, exists: fs.exists, settleMs: 100 });
    expect(waiter.watching).toBe("/");
    expect(vi.getTimerCount()).toBe(0);

    fs.present.add("/etc");
    fs.watches.get("/")!.onEvent();
    fs.watches.get("/")!.onEvent(); // a burst of events is one check
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(waiter.watching).toBe("/etc");
    expect([...fs.watches.keys()]).toEqual(["/etc"]);
    expect(vi.getTimerCount()).toBe(0);

    fs.present.add("/etc/guestlink").add("/etc/guestlink/agent.json");
    fs.watches.get("/etc")!.onEvent();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(1);
    expect(fs.watches.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("check() (the agent's SIGHUP) finds a file whose event was lost, or after the watch broke", async () => {
    const fs = fakeFs(["/", "/etc"]);
    const errors: string[] = [];
    let calls = 0;
    const waiter = whenFileAppears("/etc/guestlink/agent.json", () => { calls++; return true; }, { watch: fs.watch, exists: fs.exists, onError: (e) => errors.push(e.message) });
    fs.watches.get("/etc")!.onError(new Error("watch broke"));
    expect(errors).toEqual(["watch broke"]);
    expect(waiter.watching).toBeUndefined();
    fs.present.add("/etc/guestlink").add("/etc/guestlink/agent.json");
    waiter.check();
    await vi.waitFor(() => expect(calls).toBe(1));
    expect(fs.watches.size).toBe(0);
  });

  it("reports a watch that cannot be set up, and an onAppear that throws, and keeps going", async () => {
    const fs = fakeFs(["/", "/etc", "/etc/guestlink", "/etc/guestlink/agent.json"]);
    const errors: string[] = [];
    let failWatch = true;
    let calls = 0;
    const waiter = whenFileAppears("/etc/guestlink/agent.json", () => {
      calls++;
      if (calls === 1) throw new Error("bad config");
      return true;
    }, {
      watch: (dir, onEvent, onError) => {
        if (failWatch) throw new Error(`ENOSPC: ${dir}`);
        return fs.watch(dir, onEvent, onError);
      },
      exists: fs.exists, onError: (e) => errors.push(e.message),
    });
    await vi.waitFor(() => expect(calls).toBe(1));
    expect(errors).toEqual(["ENOSPC: /etc/guestlink", "bad config"]);
    expect(waiter.watching).toBeUndefined();
    failWatch = false;
    waiter.check();
    await vi.waitFor(() => expect(calls).toBe(2));
    expect(waiter.watching).toBeUndefined();
    expect(fs.watches.size).toBe(0);
  });

  it("never runs onAppear twice at once; an event during a run causes one more check", async () => {
    const fs = fakeFs(["/", "/etc", "/etc/agent.json"]);
    let active = 0;
    let maxActive = 0;
    let calls = 0;
    let release: (() => void) | undefined;
    const waiter = whenFileAppears("/etc/agent.json", async () => {
      calls++;
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((r) => { release = r; });
      active--;
      return calls >= 2;
    }, { watch: fs.watch, exists: fs.exists, settleMs: 0 });
    await vi.waitFor(() => expect(calls).toBe(1));
    waiter.check();
    waiter.check();
    release!();
    await vi.waitFor(() => expect(calls).toBe(2));
    release!();
    await vi.waitFor(() => expect(waiter.watching).toBeUndefined());
    expect(maxActive).toBe(1);
  });
});
