// shutdown and suspend: no response on success (the guest is going away), errors are answered.
import { defineCommand } from "../dispatch/registry.ts";
import { genericError, QgaErrors } from "../protocol/errors.ts";
import type { AgentEnv } from "./env.ts";
import { throwIfHelperFailed } from "./helper-result.ts";

const SHUTDOWN_FLAG: Record<string, string> = { halt: "-H", powerdown: "-P", reboot: "-r" };

async function suspend(env: AgentEnv, kind: "mem" | "disk", verb: string): Promise<void> {
  const states = env.fs.readTrim("/sys/power/state") ?? "";
  if (!states.split(/\s+/).includes(kind) || !env.exec.which("systemctl")) throw QgaErrors.unsupported();
  const r = await env.exec.run("systemctl", [verb]);
  if (r.status !== 0) throw genericError(`child process has failed to suspend`);
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
  suspendDisk: defineCommand<AgentEnv>({ name: "guest-suspend-disk", noSuccessResponse: true, run: (_a, ctx) => suspend(ctx.env, "disk", "hibernate") }),
  suspendRam: defineCommand<AgentEnv>({ name: "guest-suspend-ram", noSuccessResponse: true, run: (_a, ctx) => suspend(ctx.env, "mem", "suspend") }),
  suspendHybrid: defineCommand<AgentEnv>({ name: "guest-suspend-hybrid", noSuccessResponse: true, run: (_a, ctx) => suspend(ctx.env, "disk", "hybrid-sleep") }),
};
