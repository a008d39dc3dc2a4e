// What the console shows, as one pure function of the site, the latest guest records and the MTU
// report: per VM and NIC, the assigned addresses next to the reported ones, link state, the MTU
// chain with its verdict, cloud-init's verdict, and how old the report is. The page and
// GET /v1/console/state share it.
import type { MtuReport } from "../model/consistency.ts";
import type { ResolvedSite } from "../model/types.ts";
import type { ObservedCloudInit, ObservedGuest } from "../observe/types.ts";
import type { GuestRecord } from "./store.ts";

export interface ConsoleNic {
  name: string;
  mac: string;
  network: string;
  assigned: string[];
  reported: string[] | null;
  /** Reported addresses nobody assigned: possible spoofing, or a DHCP lease from elsewhere. */
  unexpected: string[];
  /** Assigned addresses the guest does not have (yet). */
  missing: string[];
  link: string | null;
  mtu: { expected: number; reported: number | null; verdict: "consistent" | "inconsistent"; chain: { layer: string; mtu: number | null; status: string }[]; problems: string[] };
}

export interface ConsoleVm {
  id: string;
  name: string;
  host: string | null;
  reportedAt: string | null;
  source: string | null;
  /** cloud-init's verdict on the guest's boot (from the QGA poll's read of result.json), when known. */
  cloudInit: ObservedCloudInit | null;
  /** The VM's latest report that went over a limit and was refused: what it shows is the last good one. */
  refused: { at: string; source: string; message: string } | null;
  nics: ConsoleNic[];
  problems: number;
}

export interface ConsoleState {
  revision: string;
  networks: { name: string; type: string; mtu: number }[];
  vms: ConsoleVm[];
}

const stripPrefix = (a: string) => a.split("/")[0]!.toLowerCase();
const isLinkLocal = (a: string) => a.startsWith("fe80:") || a.startsWith("169.254.");

export function consoleState(site: ResolvedSite, records: (vmId: string) => GuestRecord | undefined, mtu: MtuReport,
  polled: (vmId: string) => ObservedGuest | undefined = () => undefined,
  refused: (vmId: string) => ConsoleVm["refused"] | undefined = () => undefined): ConsoleState {
  const findings = new Map(mtu.vms.map((v) => [v.vmId, v]));
  const vms = site.vms.map((vm): ConsoleVm => {
    const rec = records(vm.id);
    const finding = findings.get(vm.id);
    const nics = vm.interfaces.filter((i) => i.network && !i.master).map((iface): ConsoleNic => {
      const assigned = [iface.ipv4?.address, iface.ipv6?.address].filter((a): a is string => a !== undefined);
      const seen = rec?.observed.interfaces.find((o) => (iface.kind === "physical" ? o.mac === iface.mac : o.name === iface.name));
      const reported = seen ? seen.addresses.map(stripPrefix).filter((a) => !isLinkLocal(a)) : null;
      const f = finding?.interfaces.find((x) => x.name === iface.name);
      return {
        name: iface.name, mac: iface.mac, network: iface.network!,
        assigned, reported,
        unexpected: reported ? reported.filter((a) => !assigned.includes(a)) : [],
        missing: reported ? assigned.filter((a) => !reported.includes(a)) : [],
        link: seen?.operstate ?? null,
        mtu: {
          expected: iface.mtu.value, reported: seen?.mtu ?? null, verdict: f?.verdict ?? "consistent",
          chain: (f?.layers ?? []).map((l) => ({ layer: l.layer, mtu: l.mtu ?? null, status: l.status })),
          problems: f?.problems ?? [],
        },
      };
    });
    // The latest QGA poll is the freshest word on cloud-init (the agent's own report has none); the
    // stored record is what survives a restart, since polls are kept in memory only.
    const cloudInit = polled(vm.id)?.cloudInit ?? rec?.observed.cloudInit ?? null;
    const refusal = refused(vm.id) ?? null;
    const problems = nics.reduce((n, nic) => n + nic.mtu.problems.length + (nic.unexpected.length ? 1 : 0) + (nic.link && nic.link !== "up" ? 1 : 0), 0)
      + (cloudInit?.errors.length ?? 0) + (refusal ? 1 : 0);
    return { id: vm.id, name: vm.name, host: vm.host ?? null, reportedAt: rec?.observed.at ?? null, source: rec?.observed.source ?? null, cloudInit, refused: refusal, nics, problems };
  });
  return { revision: site.revision, networks: site.networks.map((n) => ({ name: n.name, type: n.type, mtu: n.mtu.value })), vms };
}
