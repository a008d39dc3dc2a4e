// fsfreeze and fstrim through util-linux's fsfreeze/fstrim run by the injected executor.
import { writeFileSync, unlinkSync, existsSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "../dispatch/registry.ts";
import { genericError, QgaErrors } from "../protocol/errors.ts";
import { mountinfo } from "../collectors/disks.ts";
import type { AgentEnv } from "./env.ts";

const frozenByEnv = new WeakMap<AgentEnv, string[]>();

/** Marker file a restarted agent reads to know the file systems are still frozen (qemu-ga's name). */
export function frozenMarker(env: AgentEnv): string {
  return join(env.stateDir, "qga.state.isfrozen");
}

function freezableMounts(env: AgentEnv, only?: string[]): string[] {
  const seen = new Set<string>();
  const mounts: string[] = [];
  for (const m of mountinfo(env.fs)) {
    if (m.major === 0 || seen.has(m.mountpoint)) continue;
    if (only && !only.includes(m.mountpoint)) continue;
    seen.add(m.mountpoint);
    mounts.push(m.mountpoint);
  }
  return mounts.reverse(); // children before parents, as qemu-ga freezes
}

async function thawAll(env: AgentEnv): Promise<number> {
  const frozen = frozenByEnv.get(env) ?? [];
  let n = 0;
  for (const mp of frozen) {
    const r = await env.exec.run("fsfreeze", ["-u", mp]);
    if (r.status === 0) n++;
  }
  frozenByEnv.set(env, []);
  env.dispatcher?.setFrozen(false);
  try {
    unlinkSync(frozenMarker(env));
  } catch {
    // not frozen before
  }
  return n;
}

async function freeze(env: AgentEnv, only?: string[]): Promise<number> {
  if (!env.exec.which("fsfreeze")) throw QgaErrors.unsupported();
  if (env.dispatcher?.isFrozen()) throw genericError("The command guest-fsfreeze-freeze has been disabled: the agent is in frozen state");
  const done: string[] = [];
  frozenByEnv.set(env, done);
  env.dispatcher?.setFrozen(true);
  writeFileSync(frozenMarker(env), "");
  for (const mp of freezableMounts(env, only)) {
    const r = await env.exec.run("fsfreeze", ["-f", mp]);
    if (r.status !== 0) {
      const why = r.stderr.toString().trim();
      // A file system that cannot be frozen (no support) is skipped, as qemu-ga skips EOPNOTSUPP.
      if (/not supported/i.test(why)) continue;
      await thawAll(env);
      throw genericError(`failed to freeze ${mp}: ${why.replace(/^fsfreeze: [^:]*: /, "") || "unknown error"}`);
    }
    done.push(mp);
  }
  return done.length;
}

export const fsCommands = [
  defineCommand<AgentEnv>({
    name: "guest-fsfreeze-status",
    allowedWhileFrozen: true,
    run: (_a, ctx) => (ctx.env.dispatcher?.isFrozen() || existsSync(frozenMarker(ctx.env)) ? "frozen" : "thawed"),
  }),
  defineCommand<AgentEnv>({ name: "guest-fsfreeze-freeze", run: (_a, ctx) => freeze(ctx.env) }),
  defineCommand<AgentEnv>({
    name: "guest-fsfreeze-freeze-list",
    run: (args, ctx) => freeze(ctx.env, args.mountpoints as string[] | undefined),
  }),
  defineCommand<AgentEnv>({
    name: "guest-fsfreeze-thaw",
    allowedWhileFrozen: true,
    run: async (_a, ctx) => {
      if (!ctx.env.exec.which("fsfreeze")) throw QgaErrors.unsupported();
      return thawAll(ctx.env);
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-fstrim",
    run: async (args, ctx) => {
      if (!ctx.env.exec.which("fstrim")) throw QgaErrors.unsupported();
      const minimum = args.minimum === undefined ? undefined : Number(args.minimum);
      const paths: Record<string, unknown>[] = [];
      for (const mp of freezableMounts(ctx.env).reverse()) {
        const r = await ctx.env.exec.run("fstrim", ["-v", ...(minimum !== undefined ? ["-m", String(minimum)] : []), mp]);
        if (r.status === 0) {
          const m = /\((\d+) bytes\) trimmed/.exec(r.stdout.toString());
          const entry: Record<string, unknown> = { path: mp };
          if (m) entry.trimmed = Number(m[1]);
          if (minimum !== undefined) entry.minimum = minimum;
          paths.push(entry);
        } else {
          paths.push({ path: mp, error: r.stderr.toString().trim().replace(/^fstrim: [^:]*: /, "") || "failed" });
        }
      }
      return { paths };
    },
  }),
];
