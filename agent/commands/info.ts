import { defineCommand } from "../dispatch/registry.ts";
import type { AgentEnv } from "./env.ts";

export const infoCommand = defineCommand<AgentEnv>({
  name: "guest-info",
  allowedWhileFrozen: true,
  run: (_args, ctx) => {
    const d = ctx.env.dispatcher;
    if (!d) throw new Error("guest-info needs the dispatcher");
    // qemu-ga lists commands in reverse registration order.
    const supported = d.registry.names().reverse().map((name) => {
      const def = d.registry.get(name)!;
      return { name, enabled: d.isEnabled(name), "success-response": !def.noSuccessResponse };
    });
    return { version: ctx.env.version, supported_commands: supported };
  },
});
