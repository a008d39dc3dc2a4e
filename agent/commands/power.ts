// shutdown and suspend: no response on success (the guest is going away), errors are answered.
import { writeFileSync } from "node:fs";
import { defineCommand } from "../dispatch/registry.ts";
import { genericError, QgaErrors } from "../protocol/errors.ts";
import type { AgentEnv } from "./env.ts";
import { throwIfHelperFailed } from "./helper-result.ts";

const SHUTDOWN_FLAG: Record<string, string> = { halt: "-H", powerdown: "-P", reboot: "-r" };

type SuspendMode = "disk" | "ram" | "hybrid";

/** What each mode is called by systemd, pm-utils and /sys/power/state (hybrid has no word there). */
const SUSPEND_NAMES: Record<SuspendMode, { systemd: string; pmFlag: string; pmProgram: string; sysState?: string }> = {
  disk: { systemd: "hibernate", pmFlag: "--hibernate", pmProgram: "pm-hibernate", sysState: "disk" },
  ram: { systemd: "suspend", pmFlag: "--suspend", pmProgram: "pm-suspend", sysState: "mem" },
  hybrid: { systemd: "hybrid-sleep", pmFlag: "--suspend-hybrid", pmProgram: "pm-suspend-hybrid" },
};

/**
 * qemu-ga's run_process_child: the program's exit status, or -1 when it is not in PATH. A
 * program killed by a signal counts as status 0, as WEXITSTATUS reads it.
 */
async function exitStatus(env: AgentEnv, program: string, args: string[]): Promise<number> {
  const path = env.exec.which(program);
  if (!path) return -1;
  const r = await env.exec.run(path, args);
  if (r.spawnError) return -1;
  return r.status ?? 0;
}

/** qemu-ga's text for a suspend program ("systemctl suspend", "pm-suspend") that did not succeed. */
function suspendHelperError(command: string, status: number): string {
  return status === -1
    ? `the helper program '${command}' was not found`
    : `the helper program '${command}' returned an unexpected exit status code (${status})`;
}

/**
 * qemu-ga 7.2's guest_suspend: systemd, then pm-utils, then /sys/power/state, each tried only
 * when it says it supports the mode, stopping at the first that works. A failed method's error is
 * dropped and the next one tried; the answer is the last method's error, or "not supported" when
 * none claimed the mode. Success has no answer: the guest is suspending.
 */
async function suspend(env: AgentEnv, mode: SuspendMode): Promise<void> {
  const names = SUSPEND_NAMES[mode];
  let supported = false;
  let lastError: string | undefined;
  // systemctl status answers with LSB codes: 1-3 mean the unit exists (3: not running); 4 that it does not.
  const unit = await exitStatus(env, "systemctl", ["status", `systemd-${names.systemd}`]);
  if (unit > 0 && unit < 4) {
    supported = true;
    const status = await exitStatus(env, "systemctl", [names.systemd]);
    if (status === 0) return;
    lastError = suspendHelperError(`systemctl ${names.systemd}`, status);
  }
  if ((await exitStatus(env, "pm-is-supported", [names.pmFlag])) === 0) {
    supported = true;
    const status = await exitStatus(env, names.pmProgram, []);
    if (status === 0) return;
    lastError = suspendHelperError(names.pmProgram, status);
  }
  if (names.sysState === undefined) {
    // qemu-ga asks /sys/power/state about hybrid too, and that check fails with this error,
    // which is the answer when systemd or pm-utils claimed the mode and failed.
    lastError = "unknown guest suspend mode";
  } else if ((env.fs.readTrim("/sys/power/state") ?? "").includes(names.sysState)) {
    supported = true;
    try {
      writeFileSync(env.fs.path("/sys/power/state"), names.sysState);
      return;
    } catch {
      lastError = "child process has failed to suspend";
    }
  }
  if (!supported) throw genericError("the requested suspend mode is not supported by the guest");
  // qemu-ga answers only the /sys/power/state step's error here, and nothing at all (as if the
  // guest were suspending) when systemd or pm-utils failed and /sys/power/state lacks the mode;
  // ours answers the last failure instead of leaving the caller to time out.
  throw genericError(lastError ?? "child process has failed to suspend");
}

export const powerCommands = {
  shutdown: defineCommand<AgentEnv>({
    name: "guest-shutdown",
    noSuccessResponse: true,
    run: async (args, ctx) => {
      const mode = (args.mode as string | undefined) ?? "powerdown";
      const flag = SHUTDOWN_FLAG[mode];
      // qemu-ga 7.2's message, unbalanced parenthesis included.
      if (!flag) throw genericError("mode is invalid (valid values are: halt|powerdown|reboot");
      const shutdown = ctx.env.exec.which("shutdown");
      if (!shutdown) throw QgaErrors.unsupported();
      const r = await ctx.env.exec.run(shutdown, [flag, "+0", "hypervisor initiated shutdown"]);
      throwIfHelperFailed(r, "shutdown");
    },
  }),
  suspendDisk: defineCommand<AgentEnv>({ name: "guest-suspend-disk", noSuccessResponse: true, run: (_a, ctx) => suspend(ctx.env, "disk") }),
  suspendRam: defineCommand<AgentEnv>({ name: "guest-suspend-ram", noSuccessResponse: true, run: (_a, ctx) => suspend(ctx.env, "ram") }),
  suspendHybrid: defineCommand<AgentEnv>({ name: "guest-suspend-hybrid", noSuccessResponse: true, run: (_a, ctx) => suspend(ctx.env, "hybrid") }),
};
