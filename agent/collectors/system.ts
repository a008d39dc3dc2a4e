// System facts qemu-ga reports, read from /proc and /sys through an FsRoot.
import type { FsRoot } from "./fsroot.ts";
import { QFloat } from "../protocol/qobject.ts";

/** os-release as a keyfile: KEY=value, quotes removed and backslash escapes undone. */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    let v = line.slice(eq + 1);
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) v = v.slice(1, -1);
    v = v.replace(/\\([\\"$`])/g, "$1");
    out.set(line.slice(0, eq).trim(), v);
  }
  return out;
}

export interface CpuStats {
  type: "linux"; cpu: number; user: number; nice: number; system: number; idle: number;
  iowait?: number; irq?: number; softirq?: number; steal?: number; guest?: number; guestnice?: number;
}

/** Per-CPU times from /proc/stat in milliseconds (ticks * 1000 / clockTicks), as qemu-ga converts them. */
export function procCpuStats(fs: FsRoot, clockTicks = 100): CpuStats[] {
  const out: CpuStats[] = [];
  const names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guestnice"] as const;
  for (const line of (fs.read("/proc/stat") ?? "").split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const vals = m[2]!.trim().split(/\s+/).map(Number);
    if (vals.length < 4) continue;
    const s: Record<string, unknown> = { type: "linux", cpu: Number(m[1]) };
    names.forEach((n, i) => {
      if (i < vals.length) s[n] = Math.floor((vals[i]! * 1000) / clockTicks);
    });
    out.push(s as unknown as CpuStats);
  }
  return out;
}

export interface DiskStatsInfo {
  name: string; major: number; minor: number; stats: Record<string, number>;
}

export function procDiskStats(fs: FsRoot): DiskStatsInfo[] {
  const out: DiskStatsInfo[] = [];
  for (const line of (fs.read("/proc/diskstats") ?? "").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7) continue;
    const n = f.map(Number);
    const stats: Record<string, number> = {};
    const fields = f.length;
    if (fields === 7) {
      Object.assign(stats, { "read-ios": n[3], "read-sectors": n[4], "write-ios": n[5], "write-sectors": n[6] });
    }
    if (fields >= 14) {
      Object.assign(stats, {
        "read-ios": n[3], "read-merges": n[4], "read-sectors": n[5], "read-ticks": n[6], "write-ios": n[7],
        "write-merges": n[8], "write-sectors": n[9], "write-ticks": n[10], "ios-pgr": n[11], "total-ticks": n[12],
        "weight-ticks": n[13],
      });
    }
    if (fields >= 18) Object.assign(stats, { "discard-ios": n[14], "discard-merges": n[15], "discard-sectors": n[16], "discard-ticks": n[17] });
    if (fields >= 20) Object.assign(stats, { "flush-ios": n[18], "flush-ticks": n[19] });
    out.push({ name: f[2]!, major: n[0]!, minor: n[1]!, stats });
  }
  return out;
}

export function loadAverage(fs: FsRoot): { load1: QFloat; load5: QFloat; load15: QFloat } | undefined {
  const f = (fs.read("/proc/loadavg") ?? "").trim().split(/\s+/).map(Number);
  if (f.length < 3 || f.slice(0, 3).some(Number.isNaN)) return undefined;
  return { load1: new QFloat(f[0]!), load5: new QFloat(f[1]!), load15: new QFloat(f[2]!) };
}

export interface Vcpu { "logical-id": number; online: boolean; "can-offline": boolean }

/** CPUs listed newest first, as qemu-ga 7.2 builds its list. */
export function vcpus(fs: FsRoot): Vcpu[] {
  const ids = fs.list("/sys/devices/system/cpu").map((d) => /^cpu(\d+)$/.exec(d)?.[1]).filter((x): x is string => x !== undefined)
    .map(Number).sort((a, b) => a - b);
  return ids.map((id) => {
    const online = fs.readTrim(`/sys/devices/system/cpu/cpu${id}/online`);
    return online === undefined
      ? { "logical-id": id, online: true, "can-offline": false }
      : { "logical-id": id, online: online !== "0", "can-offline": true };
  }).reverse();
}

export interface MemoryBlock { "phys-index": number; online: boolean; "can-offline": boolean }

export function memoryBlocks(fs: FsRoot): MemoryBlock[] {
  return fs.listUnsorted("/sys/devices/system/memory").filter((d) => /^memory\d+$/.test(d)).map((d) => {
    const base = `/sys/devices/system/memory/${d}`;
    return {
      "phys-index": Number(d.slice(6)),
      online: (fs.readTrim(`${base}/state`) ?? "").startsWith("online"),
      "can-offline": (fs.readTrim(`${base}/removable`) ?? "0") !== "0",
    };
  });
}

export function memoryBlockSize(fs: FsRoot): number | undefined {
  const s = fs.readTrim("/sys/devices/system/memory/block_size_bytes");
  return s ? parseInt(s, 16) : undefined;
}

/** Logged-in users from utmp (struct utmp, 384 bytes a record); earliest login per user. */
export function utmpUsers(data: Buffer | undefined): { user: string; "login-time": QFloat }[] {
  if (!data) return [];
  const RECORD = 384, USER_PROCESS = 7;
  const first = new Map<string, number>();
  for (let off = 0; off + RECORD <= data.length; off += RECORD) {
    if (data.readInt32LE(off) !== USER_PROCESS) continue;
    const userRaw = data.subarray(off + 44, off + 76);
    const nul = userRaw.indexOf(0);
    const user = userRaw.subarray(0, nul < 0 ? 32 : nul).toString("utf8");
    const t = data.readInt32LE(off + 340) + data.readInt32LE(off + 344) / 1e6;
    const prev = first.get(user);
    if (prev === undefined || t < prev) first.set(user, t);
  }
  return [...first].map(([user, t]) => ({ user, "login-time": new QFloat(t) }));
}
