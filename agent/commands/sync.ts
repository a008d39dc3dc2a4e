import { defineCommand } from "../dispatch/registry.ts";
import type { AgentEnv } from "./env.ts";

export const syncCommands = [
  defineCommand<AgentEnv>({
    name: "guest-sync-delimited",
    allowedWhileFrozen: true,
    run: (args, ctx) => {
      ctx.delimitResponse();
      return args.id;
    },
  }),
  defineCommand<AgentEnv>({ name: "guest-sync", allowedWhileFrozen: true, run: (args) => args.id }),
  defineCommand<AgentEnv>({ name: "guest-ping", allowedWhileFrozen: true, run: () => ({}) }),
];
