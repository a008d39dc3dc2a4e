// guestlink render-dhcp INVENTORY --format dnsmasq|radvd [--network NAME]... [--interface NET=IF]...
// Prints a dnsmasq or radvd configuration built from the same DHCP/RA plan `guestlink dhcp` serves.
import { loadSiteFile } from "../inventory/load.ts";
import { buildDhcpPlan } from "../dhcp/plan.ts";
import { renderDnsmasq } from "../render/dnsmasq.ts";
import { renderRadvd } from "../render/radvd.ts";
import type { ResolvedSite } from "../model/types.ts";

export const renderDhcpUsage = `usage: guestlink render-dhcp INVENTORY --format dnsmasq|radvd [--network NAME]... [--interface NETWORK=IF]...
Prints a dnsmasq or radvd configuration for the inventory's networks (all, or those named with
--network). An interface not given with --interface is taken from the hosts' network links when
every host uses the same one, else the network's name is used.
`;

export interface RenderDhcpIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: RenderDhcpIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** network -> the host link every host carries it on, when they agree. */
export function interfacesFromHosts(site: ResolvedSite): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of site.networks) {
    const links = new Set(site.hosts.map((h) => h.networks[n.name]).filter((l): l is string => l !== undefined));
    if (links.size === 1) out[n.name] = [...links][0]!;
  }
  return out;
}

export async function renderDhcpCommand(argv: string[], io: RenderDhcpIo = processIo): Promise<number> {
  let inventory: string | undefined;
  let format: string | undefined;
  const networks: string[] = [];
  const interfaces: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case "--format": format = value(); break;
      case "--network": { const v = value(); if (v) networks.push(v); break; }
      case "--interface": {
        const v = value() ?? "";
        const m = /^([^=]+)=([A-Za-z0-9_.-]{1,15})$/.exec(v);
        if (!m) { io.err(`guestlink render-dhcp: --interface needs NETWORK=IF, got ${JSON.stringify(v)}\n${renderDhcpUsage}`); return 2; }
        interfaces[m[1]!] = m[2]!;
        break;
      }
      case "-h": case "--help": io.out(renderDhcpUsage); return 0;
      default:
        if (a.startsWith("-") || inventory !== undefined) { io.err(`guestlink render-dhcp: unexpected argument ${a}\n${renderDhcpUsage}`); return 2; }
        inventory = a;
    }
  }
  if (!inventory || (format !== "dnsmasq" && format !== "radvd")) {
    io.err(`guestlink render-dhcp: an inventory and --format dnsmasq|radvd are required\n${renderDhcpUsage}`);
    return 2;
  }
  const loaded = await loadSiteFile(inventory);
  if (!loaded.site) {
    for (const issue of loaded.issues) io.err(`${JSON.stringify(issue)}\n`);
    return 1;
  }
  const site = loaded.site;
  const unknown = networks.filter((n) => !site.networks.some((x) => x.name === n));
  if (unknown.length) { io.err(`guestlink render-dhcp: unknown network(s): ${unknown.join(", ")}\n`); return 1; }
  const plan = buildDhcpPlan(site);
  if (networks.length) plan.networks = plan.networks.filter((n) => networks.includes(n.network));
  const served = new Set(plan.networks.map((n) => n.network));
  const ifaces = Object.fromEntries(Object.entries({ ...interfacesFromHosts(site), ...interfaces }).filter(([net]) => served.has(net)));
  io.out(format === "dnsmasq" ? renderDnsmasq(plan, { interfaces: ifaces }) : renderRadvd(plan, { interfaces: ifaces }));
  return 0;
}
