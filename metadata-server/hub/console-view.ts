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

/** The guest's own clock, as its latest report gave it: kept as a fact, never used for ages. */
export interface GuestClock {
  /** What the guest said the time was, as it said it. */
  at: string;
  /** Guest time minus the time the server received the report; null when `at` is not a time. */
  skewSeconds: number | null;
  /** Set when the skew is past the limit, or `at` is no time at all. */
  problem: string | null;
}

/** A report refused for going over a limit: when, from which source, and the limit's words. */
export interface Refusal { at: string; source: "agent" | "qga"; message: string }

export interface ConsoleVm {
  id: string;
  name: string;
  host: string | null;
  /** When the server received the latest report (the server's clock, so ages are right whatever the guest's says). */
  reportedAt: string | null;
  guestClock: GuestClock | null;
  source: string | null;
  /** cloud-init's verdict on the guest's boot (from the QGA poll's read of result.json), when known. */
  cloudInit: ObservedCloudInit | null;
  /** The VM's latest report that went over a limit and was refused: what it shows is the last good one. */
  refused: Refusal | null;
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

/** A guest clock further than this from the server's is a problem (Kerberos' default tolerance). */
export const DEFAULT_CLOCK_SKEW_LIMIT_SECONDS = 300;

/** What the console is made of, besides the site: each VM's stored record, the MTU findings, and what is kept in memory only. */
export interface ConsoleSources {
  record: (vmId: string) => GuestRecord | undefined;
  mtu: MtuReport;
  /** The latest host-side QGA poll's observation. */
  polled?: (vmId: string) => ObservedGuest | undefined;
  /** The latest report refused for going over a limit. */
  refused?: (vmId: string) => Refusal | undefined;
  clockSkewLimitSeconds?: number;
}

/** The guest's clock against the time its report arrived. */
export function guestClock(guestAt: string, receivedAt: string, limitSeconds = DEFAULT_CLOCK_SKEW_LIMIT_SECONDS): GuestClock {
  const guest = Date.parse(guestAt);
  const host = Date.parse(receivedAt);
  if (!Number.isFinite(guest) || !Number.isFinite(host)) {
    return { at: guestAt, skewSeconds: null, problem: `the guest's clock reads ${JSON.stringify(guestAt.slice(0, 64))}, which is not a time` };
  }
  const skewSeconds = Math.round((guest - host) / 1000);
  const problem = Math.abs(skewSeconds) > limitSeconds
    ? `the guest's clock is ${Math.abs(skewSeconds)} s ${skewSeconds > 0 ? "ahead of" : "behind"} the server's (limit ${limitSeconds} s): check its NTP/chrony or the hypervisor's RTC`
    : null;
  return { at: guestAt, skewSeconds, problem };
}

export function consoleState(site: ResolvedSite, sources: ConsoleSources): ConsoleState {
  const { record: records, mtu, polled = () => undefined, refused = () => undefined } = sources;
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
    const clock = rec ? guestClock(rec.observed.at, rec.receivedAt, sources.clockSkewLimitSeconds) : null;
    const problems = nics.reduce((n, nic) => n + nic.mtu.problems.length + (nic.unexpected.length ? 1 : 0) + (nic.link && nic.link !== "up" ? 1 : 0), 0)
      + (cloudInit?.errors.length ?? 0) + (refusal ? 1 : 0) + (clock?.problem ? 1 : 0);
    return {
      id: vm.id, name: vm.name, host: vm.host ?? null, reportedAt: rec?.receivedAt ?? null, guestClock: clock,
      source: rec?.observed.source ?? null, cloudInit, refused: refusal, nics, problems,
    };
  });
  return { revision: site.revision, networks: site.networks.map((n) => ({ name: n.name, type: n.type, mtu: n.mtu.value })), vms };
}
