// guest-exec / guest-exec-status: run a program, capture up to a limit per stream, report once exited.
import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import { defineCommand } from "../dispatch/registry.ts";
import { genericError, QgaErrors } from "../protocol/errors.ts";
import { strerror, decodeBase64Strict } from "./errno.ts";
import type { AgentEnv } from "./env.ts";

interface Captured { chunks: Buffer[]; length: number; truncated: boolean }
interface ExecEntry {
  done: boolean;
  code: number | null;
  signal: number | null;
  capture: boolean;
  out: Captured;
  err: Captured;
}

// Signal numbers by name, for every signal this platform has (not only 1-15).
const SIGNALS: Readonly<Record<string, number>> = osConstants.signals;

const tables = new WeakMap<AgentEnv, Map<number, ExecEntry>>();
function table(env: AgentEnv): Map<number, ExecEntry> {
  let t = tables.get(env);
  if (!t) tables.set(env, (t = new Map()));
  return t;
}

function collect(stream: NodeJS.ReadableStream | null, into: Captured, max: number): void {
  stream?.on("data", (chunk: Buffer) => {
    const room = max - into.length;
    if (room <= 0) {
      into.truncated = true;
      return; // keep draining so the child never blocks on a full pipe
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (part.length < chunk.length) into.truncated = true;
    into.chunks.push(part);
    into.length += part.length;
  });
}

export const execCommands = [
  defineCommand<AgentEnv>({
    name: "guest-exec-status",
    run: (args, ctx) => {
      const pid = Number(args.pid);
      const t = table(ctx.env);
      const e = t.get(pid);
      if (!e) throw QgaErrors.invalidParameter("pid");
      if (!e.done) return { exited: false };
      t.delete(pid);
      const r: Record<string, unknown> = { exited: true };
      if (e.signal !== null) r.signal = e.signal;
      else r.exitcode = e.code;
      if (e.capture) {
        for (const [name, c] of [["out", e.out], ["err", e.err]] as const) {
          if (c.length > 0) {
            r[`${name}-data`] = Buffer.concat(c.chunks).toString("base64");
            r[`${name}-truncated`] = c.truncated;
          }
        }
      }
      return r;
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-exec",
    run: async (args, ctx) => {
      const path = args.path as string;
      const argv = (args.arg as string[] | undefined) ?? [];
      let input: Buffer | undefined;
      if (args["input-data"] !== undefined) {
        input = decodeBase64Strict(args["input-data"] as string);
        if (!input) throw QgaErrors.base64Invalid();
      }
      const capture = args["capture-output"] === true;
      let env: NodeJS.ProcessEnv = process.env;
      if (args.env !== undefined) {
        env = {};
        for (const kv of args.env as string[]) {
          const eq = kv.indexOf("=");
          if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
      }
      const child = spawn(path, argv, {
        env,
        stdio: [input ? "pipe" : "ignore", capture ? "pipe" : "ignore", capture ? "pipe" : "ignore"],
        argv0: path,
      });
      const started = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
        child.once("spawn", () => resolve(null));
        child.once("error", (e) => resolve(e));
      });
      if (started) {
        throw genericError(`Guest agent command failed, error was 'Failed to execute child process \u201C${path}\u201D (${strerror(started)})'`);
      }
      const max = ctx.env.limits.execCaptureMax;
      const entry: ExecEntry = {
        done: false, code: null, signal: null, capture,
        out: { chunks: [], length: 0, truncated: false }, err: { chunks: [], length: 0, truncated: false },
      };
      collect(child.stdout, entry.out, max);
      collect(child.stderr, entry.err, max);
      if (input && child.stdin) {
        child.stdin.on("error", () => {}); // the child may exit without reading its input
        child.stdin.end(input);
      }
      // "close" waits for the output pipes as well, so status never reports exited with data still in flight.
      child.once("close", (code, signal) => {
        entry.done = true;
        entry.code = code;
        entry.signal = signal ? (SIGNALS[signal] ?? 0) : null;
      });
      const pid = child.pid!;
      table(ctx.env).set(pid, entry);
      return { pid };
    },
  }),
];

