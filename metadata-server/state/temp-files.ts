// Temporary files named after the writing process: `.NAME.<pid>.tmp` next to NAME (durable.ts
// writes the guest store and the DHCP leases this way, secret.ts the server secret). A process
// killed mid-write (out of memory, SIGKILL, power loss) leaves its temporary file behind, and
// nothing else would ever remove it; so at start-up the server removes the ones whose writer
// is gone. The pid in the name is what tells a dead writer's file from one being written now.
import { lstat, readdir, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

const TEMP_NAME = /^\.(.+)\.([1-9]\d{0,9})\.tmp$/;

/** The temporary file a write of `path` by process `pid` goes through. */
export function tempPathFor(path: string, pid = process.pid): string {
  return join(dirname(path), `.${basename(path)}.${pid}.tmp`);
}

/** Whether a process of this pid exists (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface RemovedTempFile { path: string; pid: number; bytes: number }

export interface StaleTempOptions {
  /** Only temporary files of these names (`leases.json` for `.leases.json.<pid>.tmp`); default: any. */
  names?: readonly string[];
  alive?: (pid: number) => boolean;
  ownPid?: number;
}

/**
 * Removes the temporary files in `dir` whose writer is neither this process nor alive; returns
 * what it removed. A missing directory has nothing to remove; a file that cannot be removed is
 * left for the next start (the caller's write of that name replaces it anyway).
 */
export async function removeStaleTempFiles(dir: string, opts: StaleTempOptions = {}): Promise<RemovedTempFile[]> {
  const alive = opts.alive ?? processAlive;
  const ownPid = opts.ownPid ?? process.pid;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const removed: RemovedTempFile[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || (opts.names && !opts.names.includes(m[1]!))) continue;
    const pid = Number(m[2]);
    if (pid === ownPid || alive(pid)) continue;
    const path = join(dir, name);
    try {
      const st = await lstat(path);
      if (!st.isFile()) continue;
      await unlink(path);
      removed.push({ path, pid, bytes: st.size });
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}
