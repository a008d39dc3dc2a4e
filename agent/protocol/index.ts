// The agent's wire contract: the only module outside agent/ may import. Inside agent/, modules import the
// individual files instead, so the agent bundle leaves out zod (used only by zod.ts and ws-messages.ts).
export * from "./qobject.ts";
export * from "./framing.ts";
export * from "./errors.ts";
export * from "./qapi.ts";
export * from "./zod.ts";
export * from "./schemas.ts";
export * from "./ws-messages.ts";
