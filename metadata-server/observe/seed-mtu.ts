// What MTU a seed gave each interface: read back from a seed directory's network-config (v1 or
// v2) or network_data.json. A seed is written once, at provisioning; when the network's MTU changes
// later, the seed still says the old value, and cloud-init applied that one at first boot.
import { load } from "js-yaml";

/** MAC -> MTU the seed pins (null: the seed leaves it to DHCP/RA). */
export type SeedMtus = Map<string, number | null>;

export function mtusFromNetworkConfig(text: string): SeedMtus {
  const doc = load(text) as Record<string, unknown> | null;
  const cfg = (doc && typeof doc === "object" && "network" in doc ? (doc.network as Record<string, unknown>) : doc) ?? {};
  const out: SeedMtus = new Map();
  if (cfg.version === 1 && Array.isArray(cfg.config)) {
    for (const item of cfg.config as Record<string, unknown>[]) {
      if (item.type === "physical" && typeof item.mac_address === "string") out.set(item.mac_address.toLowerCase(), typeof item.mtu === "number" ? item.mtu : null);
    }
  } else if (cfg.version === 2 && cfg.ethernets && typeof cfg.ethernets === "object") {
    for (const eth of Object.values(cfg.ethernets as Record<string, Record<string, unknown>>)) {
      const mac = (eth.match as Record<string, unknown> | undefined)?.macaddress;
      if (typeof mac === "string") out.set(mac.toLowerCase(), typeof eth.mtu === "number" ? eth.mtu : null);
    }
  }
  return out;
}

export function mtusFromNetworkData(text: string): SeedMtus {
  const doc = JSON.parse(text) as { links?: Record<string, unknown>[] };
  const out: SeedMtus = new Map();
  for (const link of doc.links ?? []) {
    if (typeof link.ethernet_mac_address === "string" && link.type !== "bond" && link.type !== "vlan") {
      out.set(link.ethernet_mac_address.toLowerCase(), typeof link.mtu === "number" ? link.mtu : null);
    }
  }
  return out;
}
