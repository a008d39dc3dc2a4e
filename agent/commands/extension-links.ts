// __org.guestlink_guest-network-get-links: link state, MTU, speed, duplex, driver and kind per interface.
import { defineCommand } from "../dispatch/registry.ts";
import { EXTENSION_GET_LINKS } from "../protocol/schemas.ts";
import { collectLinks } from "../collectors/network.ts";
import type { AgentEnv } from "./env.ts";

export const extensionLinksCommand = defineCommand<AgentEnv>({
  name: EXTENSION_GET_LINKS,
  run: (_a, ctx) => collectLinks(ctx.env.fs, ctx.env.addressSource),
});
