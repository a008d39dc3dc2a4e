// guestlink mtu-check: does every layer agree on each vNIC's MTU? Exit 0 yes, 1 no, 2 error.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { checkMtu, type InterfaceFinding, type MtuReport } from "../model/consistency.ts";
import type { HostLink, ResolvedSite, ResolvedVm } from "../model/types.ts";
import { hostLinksFromIpLink } from "../observe/ip-link.ts";
import { mtusFromDomainXml } from "../observe/libvirt-xml.ts";
import { mtusFromNetworkConfig, mtusFromNetworkData, type SeedMtus } from "../observe/seed-mtu.ts";
import type { ObservedGuest } from "../observe/types.ts";
import { EXIT_OK, findVm, loadOrReport, UsageError, type Io } from "./common.ts";

export const mtuCheckUsage = `usage: guestlink mtu-check --inventory FILE [--server URL] [--host-links [HOST=]FILE]... [--seed VM=DIR]... [--domain-xml VM=FILE]... [--guest-report VM=FILE]... [--json] [--verbose]
  Checks every vNIC's MTU layer by layer: the logical network, the host path (bridge, VLAN, bond,
  NICs, tunnel overhead), what cloud-init was given, what DHCP and RA advertise, and what the
  guest reports. Says which layer disagrees and what to do.
  --server URL               a running guestlink serve: the guests' latest reports come from its /v1/guests
  --host-links [HOST=]FILE   "ip -j -d link" output of a host (HOST may be left out when the
                             inventory has one host); overrides the inventory's description
  --seed VM=DIR              the seed directory the VM booted with (NoCloud or ConfigDrive), to
                             compare what cloud-init was given with what the network says now
  --domain-xml VM=FILE       the VM's libvirt domain XML (virsh dumpxml): its <mtu size> per vNIC
  --guest-report VM=FILE     a guest report (JSON: {source?, at?, interfaces: [{name, mac, mtu, ...}]})
  --json                     the full report as JSON
  --verbose                  every interface with its layer chain, not only the inconsistent ones
Exit status: 0 consistent, 1 inconsistent, 2 error (bad inventory, unreadable input, usage).
`;

const EXIT_INCONSISTENT = 1;
const EXIT_ERROR = 2;

const GuestReportFile = z.strictObject({
  source: z.string().max(256).optional(),
  at: z.string().max(64).optional(),
  interfaces: z.array(z.looseObject({
    name: z.string().min(1).max(64),
    mac: z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/),
    mtu: z.int().min(0).max(1 << 20).optional(),
    ipv6Mtu: z.int().min(0).max(1 << 20).optional(),
    operstate: z.string().max(32).optional(),
    addresses: z.array(z.string().max(64)).max(1024).default([]),
  })).max(4096),
});

export async function mtuCheckCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      inventory: { type: "string" }, server: { type: "string" }, "host-links": { type: "string", multiple: true, default: [] },
      "guest-report": { type: "string", multiple: true, default: [] },
      seed: { type: "string", multiple: true, default: [] },
      "domain-xml": { type: "string", multiple: true, default: [] },
      json: { type: "boolean", default: false }, verbose: { type: "boolean", default: false },
      templates: { type: "string" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) { io.out(mtuCheckUsage); return EXIT_OK; }
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.inventory) throw new UsageError("--inventory FILE is required");
  const loaded = await loadOrReport(values.inventory, io, values.templates);
  if (!loaded.site) return EXIT_ERROR;
  const site = loaded.site;
  try {
    const hostLinks = await readHostLinks(site, values["host-links"]);
    const guests = values.server !== undefined ? await fetchGuestReports(site, values.server) : new Map<string, ObservedGuest>();
    // A report file given on the command line wins over the server's for that VM.
    for (const [id, g] of await readGuestReports(site, values["guest-report"])) guests.set(id, g);
    const seeds = await readSeeds(site, values.seed);
    const libvirt = await readDomainXml(site, values["domain-xml"]);
    const report = checkMtu({ site, hostLinks, guests, seeds, libvirt });
    io.out(values.json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report, values.verbose));
    return report.summary.inconsistent ? EXIT_INCONSISTENT : EXIT_OK;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.err(`guestlink mtu-check: ${(err as Error).message}\n`);
    return EXIT_ERROR;
  }
}

async function readHostLinks(site: ResolvedSite, specs: string[]): Promise<Map<string, HostLink[]>> {
  const out = new Map<string, HostLink[]>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    let host: string;
    let file: string;
    if (eq > 0) {
      host = spec.slice(0, eq);
      file = spec.slice(eq + 1);
      if (!site.hosts.some((h) => h.name === host)) throw new UsageError(`--host-links ${spec}: the inventory has no host ${host}`);
    } else {
      if (site.hosts.length !== 1) throw new UsageError(`--host-links ${spec}: say which host it is (HOST=FILE); the inventory has ${site.hosts.length} hosts`);
      host = site.hosts[0]!.name;
      file = spec;
    }
    const parsed = hostLinksFromIpLink(JSON.parse(await readFile(file, "utf8")));
    if ("error" in parsed) throw new Error(`${file}: ${parsed.error}`);
    out.set(host, parsed.links);
  }
  return out;
}

const ServerGuests = z.object({
  guests: z.array(z.object({ vmId: z.string(), observed: z.object({ vmId: z.string(), source: z.string(), at: z.string(), interfaces: GuestReportFile.shape.interfaces }) })).max(1_000_000),
});

/** The latest reports a running server holds, for the VMs of this inventory. */
async function fetchGuestReports(site: ResolvedSite, server: string): Promise<Map<string, ObservedGuest>> {
  let url: URL;
  try {
    url = new URL("v1/guests", server.endsWith("/") ? server : `${server}/`);
  } catch {
    throw new UsageError(`--server ${server} is not a URL`);
  }
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const parsed = ServerGuests.safeParse(await res.json());
  if (!parsed.success) throw new Error(`${url}: not a guest list: ${parsed.error.issues[0]?.message}`);
  const known = new Set(site.vms.map((v) => v.id));
  const out = new Map<string, ObservedGuest>();
  for (const g of parsed.data.guests) {
    if (!known.has(g.vmId)) continue;
    out.set(g.vmId, { ...g.observed, interfaces: g.observed.interfaces.map((i) => ({ ...i, mac: i.mac.toLowerCase() })) });
  }
  return out;
}

/** "VM=PATH" -> the VM and the path; a usage error names the flag. */
function vmSpec(site: ResolvedSite, flag: string, spec: string): { vm: ResolvedVm; path: string } {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new UsageError(`${flag} needs VM=PATH, not ${spec}`);
  const vm = findVm(site, spec.slice(0, eq));
  if (!vm) throw new UsageError(`${flag} ${spec}: the inventory has no VM ${spec.slice(0, eq)}`);
  return { vm, path: spec.slice(eq + 1) };
}

async function readGuestReports(site: ResolvedSite, specs: string[]): Promise<Map<string, ObservedGuest>> {
  const out = new Map<string, ObservedGuest>();
  for (const spec of specs) {
    const { vm, path: file } = vmSpec(site, "--guest-report", spec);
    const parsed = GuestReportFile.safeParse(JSON.parse(await readFile(file, "utf8")));
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`${file}: not a guest report: at ${i.path.join(".") || "top level"}: ${i.message}`);
    }
    out.set(vm.id, {
      vmId: vm.id, source: parsed.data.source ?? `file:${file}`, at: parsed.data.at ?? new Date().toISOString(),
      interfaces: parsed.data.interfaces.map((i) => ({ ...i, mac: i.mac.toLowerCase() })),
    });
  }
  return out;
}

async function readSeeds(site: ResolvedSite, specs: string[]): Promise<Map<string, SeedMtus>> {
  const out = new Map<string, SeedMtus>();
  for (const spec of specs) {
    const { vm, path: dir } = vmSpec(site, "--seed", spec);
    const nocloud = join(dir, "network-config");
    const configDrive = join(dir, "openstack", "latest", "network_data.json");
    if (existsSync(nocloud)) out.set(vm.id, mtusFromNetworkConfig(await readFile(nocloud, "utf8")));
    else if (existsSync(configDrive)) out.set(vm.id, mtusFromNetworkData(await readFile(configDrive, "utf8")));
    else throw new Error(`${dir}: neither network-config (NoCloud) nor openstack/latest/network_data.json (ConfigDrive) is there`);
  }
  return out;
}

async function readDomainXml(site: ResolvedSite, specs: string[]): Promise<Map<string, Map<string, number | null>>> {
  const out = new Map<string, Map<string, number | null>>();
  for (const spec of specs) {
    const { vm, path: file } = vmSpec(site, "--domain-xml", spec);
    const parsed = mtusFromDomainXml(await readFile(file, "utf8"));
    if ("error" in parsed) throw new Error(`${file}: ${parsed.error}`);
    out.set(vm.id, parsed);
  }
  return out;
}

function chain(f: InterfaceFinding): string {
  return f.layers.map((l) => `${l.layer} ${l.mtu ?? "-"}${l.status === "ok" ? "" : ` (${l.status})`}`).join(" | ");
}

export function formatReport(report: MtuReport, verbose: boolean): string {
  const lines: string[] = [];
  for (const vm of report.vms) {
    for (const f of vm.interfaces) {
      if (f.verdict === "consistent" && !verbose) continue;
      lines.push(`${vm.vmName} ${f.name} (${f.network}, MTU ${f.expected}): ${f.verdict}`);
      if (verbose) lines.push(`  ${chain(f)}`);
      for (const p of f.problems) lines.push(`  - ${p}`);
    }
  }
  const s = report.summary;
  lines.push(`${s.interfaces} interfaces checked on ${report.vms.length} VMs: ${s.inconsistent} inconsistent; ${s.guestsReporting} guests reporting`);
  return lines.join("\n") + "\n";
}
