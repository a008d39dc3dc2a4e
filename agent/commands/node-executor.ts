// The real executor: child processes and PATH lookup. Commands receive it through AgentEnv.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join, delimiter } from "node:path";
import type { Executor, RunResult, Clock } from "./env.ts";

export class NodeExecutor implements Executor {
  which(file: string): string | undefined {
    if (file.includes("/")) return file;
    const dirs = (process.env.PATH || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(delimiter);
    for (const d of [...dirs, "/usr/sbin", "/sbin"]) {
      const p = join(d, file);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // keep looking
      }
    }
    return undefined;
  }

  run(file: string, args: readonly string[], opts: { input?: Buffer | string; env?: Record<string, string> } = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = spawn(this.which(file) ?? file, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      child.stdin.on("error", () => {});
      child.once("error", (e: NodeJS.ErrnoException) =>
        resolve({ status: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), spawnError: e }));
      child.once("close", (status, signal) =>
        resolve({ status, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
      child.stdin.end(opts.input ?? "");
    });
  }
}

export const systemClock: Clock = {
  nowNs: () => BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n),
};
