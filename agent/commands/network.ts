import { defineCommand } from "../dispatch/registry.ts";
import { collectInterfaces } from "../collectors/network.ts";
import { collectRoutes } from "../collectors/routes.ts";
import type { AgentEnv } from "./env.ts";

export const networkCommands = [
  defineCommand<AgentEnv>({
    name: "guest-network-get-interfaces",
    run: (_a, ctx) => collectInterfaces(ctx.env.fs, ctx.env.addressSource),
  }),
  defineCommand<AgentEnv>({
    name: "guest-network-get-route",
    run: (_a, ctx) => collectRoutes(ctx.env.fs),
  }),
];
