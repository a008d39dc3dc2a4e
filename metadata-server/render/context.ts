// What renderers may know beyond the VM itself. Kept small and explicit so every output stays a
// pure function of (site, vm, context) and golden files pin it down.
import type { ResolvedSite } from "../model/types.ts";

export interface AgentEnrollment {
  /** WebSocket URL the in-guest agent reports to, e.g. "wss://meta.example:8443/v1/agent". */
  url: string;
  /** Per-VM credential; the server derives it, the guest receives it only in its own vendor-data. */
  credential: string;
}

export interface RenderContext {
  site: ResolvedSite;
  /** Present when the metadata server hands agents their reporting credentials. */
  agent?: AgentEnrollment;
  /** NoCloud network-config format: v1 (every renderer; the default) or v2 (netplan guests). */
  networkConfigVersion?: 1 | 2;
}
