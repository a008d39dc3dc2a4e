// Read-mostly system information: time, host name, time zone, OS, users, CPUs, memory, disks.
import { hostname, release, version, machine, arch } from "node:os";
import { readFileSync, writeFileSync, statfsSync } from "node:fs";
import { defineCommand } from "../dispatch/registry.ts";
import { QgaErrors, genericError } from "../protocol/errors.ts";
import {
  parseOsRelease, procCpuStats, procDiskStats, loadAverage, vcpus, memoryBlocks, memoryBlockSize, utmpUsers,
} from "../collectors/system.ts";
import { mountinfo, blockDevName, parentDisk, diskAddress, disks } from "../collectors/disks.ts";
import { strerror } from "./errno.ts";
import { localTzFile, tzAbbreviation } from "../collectors/tzfile.ts";
import type { AgentEnv } from "./env.ts";
import { throwIfHelperFailed } from "./helper-result.ts";

function unameMachine(): string {
  try {
    return machine();
  } catch {
    return ({ x64: "x86_64", arm64: "aarch64", ia32: "i686" } as Record<string, string>)[arch()] ?? arch();
  }
}

function timezone(env: AgentEnv, now: Date): { zone?: string; offset: number } {
  const offset = -now.getTimezoneOffset() * 60;
  const file = localTzFile(env.fs, process.env.TZ);
  const abbr = file ? tzAbbreviation(file, Math.floor(now.getTime() / 1000), offset) : undefined;
  if (abbr) return { zone: abbr, offset };
  // No readable TZif file (or TZ is a POSIX rule string): fall back to ICU's short name.
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(now).find((p) => p.type === "timeZoneName");
  let zone = part?.value;
  if (zone === "GMT" && offset === 0 && (process.env.TZ ?? "UTC").toUpperCase().includes("UTC")) zone = "UTC";
  return zone ? { zone, offset } : { offset };
}

async function runHelper(env: AgentEnv, file: string, args: string[], action: string): Promise<void> {
  if (!env.exec.which(file)) throw QgaErrors.unsupported();
  const r = await env.exec.run(file, args);
  throwIfHelperFailed(r, action);
}

export const systemCommands = {
  getTime: defineCommand<AgentEnv>({
    name: "guest-get-time",
    // qemu-ga reads the clock with microsecond resolution and reports nanoseconds.
    run: (_a, ctx) => (ctx.env.clock.nowNs() / 1000n) * 1000n,
  }),
  setTime: defineCommand<AgentEnv>({
    name: "guest-set-time",
    run: async (args, ctx) => {
      const env = ctx.env;
      if (args.time !== undefined) {
        const ns = BigInt(args.time as number | bigint);
        const sec = ns / 1_000_000_000n;
        const year = new Date(Number(sec) * 1000).getUTCFullYear();
        if (!Number.isFinite(year) || year < 1970 || year >= 2070) throw genericError("Invalid time");
        const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
        await runHelper(env, "date", ["-u", "-s", `@${sec}.${frac}`], "set time");
        await runHelper(env, "hwclock", ["-w"], "set hardware clock to system time");
      } else {
        await runHelper(env, "hwclock", ["-s"], "set system time from hardware clock");
      }
      return {};
    },
  }),
  hostName: defineCommand<AgentEnv>({ name: "guest-get-host-name", run: () => ({ "host-name": hostname() }) }),
  timezone: defineCommand<AgentEnv>({ name: "guest-get-timezone", run: (_a, ctx) => timezone(ctx.env, new Date(Number(ctx.env.clock.nowNs() / 1_000_000n))) }),
  osinfo: defineCommand<AgentEnv>({
    name: "guest-get-osinfo",
    run: (_a, ctx) => {
      const info: Record<string, string> = { "kernel-release": release(), "kernel-version": version(), machine: unameMachine() };
      let text: string | undefined;
      for (const p of [ctx.env.osReleasePath, "/usr/lib/os-release"]) {
        try {
          text = readFileSync(p, "utf8");
          break;
        } catch {
          // try the next location, as qemu-ga does
        }
      }
      if (text !== undefined) {
        const kv = parseOsRelease(text);
        const map: [string, string][] = [["ID", "id"], ["NAME", "name"], ["PRETTY_NAME", "pretty-name"], ["VERSION", "version"],
          ["VERSION_ID", "version-id"], ["VARIANT", "variant"], ["VARIANT_ID", "variant-id"]];
        for (const [k, out] of map) {
          const v = kv.get(k);
          if (v !== undefined) info[out] = v;
        }
      }
      return info;
    },
  }),
  users: defineCommand<AgentEnv>({
    name: "guest-get-users",
    run: (_a, ctx) => utmpUsers(ctx.env.fs.readBinary("/var/run/utmp")),
  }),
  getVcpus: defineCommand<AgentEnv>({ name: "guest-get-vcpus", run: (_a, ctx) => vcpus(ctx.env.fs) }),
  setVcpus: defineCommand<AgentEnv>({
    name: "guest-set-vcpus",
    run: (args, ctx) => {
      const list = args.vcpus as { "logical-id": number; online: boolean }[];
      let processed = 0;
      for (const v of list) {
        const p = ctx.env.fs.path(`/sys/devices/system/cpu/cpu${v["logical-id"]}/online`);
        const cur = ctx.env.fs.readTrim(`/sys/devices/system/cpu/cpu${v["logical-id"]}/online`);
        if (cur === undefined) {
          if (!v.online) {
            if (processed === 0) throw genericError(`logical processor #${v["logical-id"]} can't be offlined`);
            break;
          }
        } else if ((cur !== "0") !== v.online) {
          try {
            writeFileSync(p, v.online ? "1" : "0");
          } catch (e) {
            if (processed === 0) throw genericError(`failed to set ${p}: ${strerror(e)}`);
            break;
          }
        }
        processed++;
      }
      return processed;
    },
  }),
  getMemoryBlocks: defineCommand<AgentEnv>({ name: "guest-get-memory-blocks", run: (_a, ctx) => memoryBlocks(ctx.env.fs) }),
  setMemoryBlocks: defineCommand<AgentEnv>({
    name: "guest-set-memory-blocks",
    run: (args, ctx) => (args["mem-blks"] as { "phys-index": number | bigint; online: boolean }[]).map((b) => {
      const base = `/sys/devices/system/memory/memory${b["phys-index"]}`;
      const state = ctx.env.fs.readTrim(`${base}/state`);
      if (state === undefined) return { "phys-index": b["phys-index"], response: "not-found", "error-code": 2 }; // ENOENT
      if (state.startsWith("online") === b.online) return { "phys-index": b["phys-index"], response: "success" };
      try {
        writeFileSync(ctx.env.fs.path(`${base}/state`), b.online ? "online" : "offline");
        return { "phys-index": b["phys-index"], response: "success" };
      } catch (e) {
        return { "phys-index": b["phys-index"], response: b.online ? "operation-failed" : "operation-not-supported", "error-code": (e as NodeJS.ErrnoException).errno ? -((e as NodeJS.ErrnoException).errno!) : 1 };
      }
    }),
  }),
  memoryBlockInfo: defineCommand<AgentEnv>({
    name: "guest-get-memory-block-info",
    run: (_a, ctx) => {
      const size = memoryBlockSize(ctx.env.fs);
      if (size === undefined) throw QgaErrors.unsupported();
      return { size };
    },
  }),
  fsinfo: defineCommand<AgentEnv>({
    name: "guest-get-fsinfo",
    run: (_a, ctx) => {
      const fs = ctx.env.fs;
      const out: unknown[] = [];
      for (const m of mountinfo(fs)) {
        // Only file systems on block devices (major != 0), as qemu-ga's mount list.
        if (m.major === 0) continue;
        const dev = blockDevName(fs, m.major, m.minor);
        if (!dev) continue;
        const entry: Record<string, unknown> = { name: dev, mountpoint: m.mountpoint, type: m.fstype };
        try {
          const st = statfsSync(m.mountpoint, { bigint: true });
          const used = (st.blocks - st.bfree) * st.bsize;
          entry["used-bytes"] = used;
          entry["total-bytes"] = used + st.bavail * st.bsize;
        } catch {
          // no sizes: qemu-ga omits them too when statvfs fails
        }
        const addr = diskAddress(fs, parentDisk(fs, dev));
        entry.disk = addr ? [addr] : [];
        out.push(entry);
      }
      return out.reverse();
    },
  }),
  disks: defineCommand<AgentEnv>({ name: "guest-get-disks", run: (_a, ctx) => disks(ctx.env.fs) }),
  devices: defineCommand<AgentEnv>({ name: "guest-get-devices", disabledByDefault: true, run: () => [] }),
  diskstats: defineCommand<AgentEnv>({ name: "guest-get-diskstats", run: (_a, ctx) => procDiskStats(ctx.env.fs) }),
  cpustats: defineCommand<AgentEnv>({ name: "guest-get-cpustats", run: (_a, ctx) => procCpuStats(ctx.env.fs) }),
  load: defineCommand<AgentEnv>({
    name: "guest-get-load",
    run: (_a, ctx) => {
      const l = loadAverage(ctx.env.fs);
      if (!l) throw QgaErrors.unsupported();
      return l;
    },
  }),
};


