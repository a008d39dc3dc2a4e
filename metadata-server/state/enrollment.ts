// Agent enrollment: what a guest's vendor-data carries so the in-guest agent can report back.
// Derived from the server secret and the public URL only, so the HTTP service and any offline
// render that is given the same state directory and URL produce the same bytes.
import type { AgentEnrollment } from "../render/context.ts";
import { agentCredential } from "./tokens.ts";

/** Path of the agent WebSocket endpoint under the public URL. */
export const AGENT_PATH = "/v1/agent";

/** "http://meta.example:8775/" -> "ws://meta.example:8775/v1/agent" (https -> wss). */
export function agentUrl(publicUrl: string): string {
  const u = new URL(publicUrl);
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`public URL must be http:// or https://, not ${u.protocol}`);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = u.pathname.replace(/\/+$/, "") + AGENT_PATH;
  u.search = "";
  u.hash = "";
  return u.toString();
}

export function agentEnrollment(secret: Uint8Array, vmId: string, publicUrl: string): AgentEnrollment {
  return { url: agentUrl(publicUrl), credential: agentCredential(secret, vmId) };
}
