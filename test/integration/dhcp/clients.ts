// Wrappers around the real DHCP/RA clients, run in the guest namespace of a NetnsPair with
// private /etc, /var, /run, and readers of what each one configured (through `ip -j`).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { NetnsPair, mustRun, run, waitFor, type RunResult } from "../../helpers/netns.ts";
import { bundleEntry, repoRoot } from "./bundle.ts";

export interface V4Route {
  dst: string;
  gateway?: string;
  mtu?: number;
}

export interface GuestV4 {
  address?: string;
  prefixLength?: number;
  gateway?: string;
  linkMtu: number;
  routes: V4Route[];
  dns: string[];
}

export function stateDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gl-dhcp-${prefix}-`));
}

export async function guestV4(pair: NetnsPair, dir?: string): Promise<GuestV4> {
  const addr = JSON.parse(await mustRun("ip", ["-n", pair.guestNs, "-j", "addr", "show", "dev", pair.guestIf])) as { mtu: number; addr_info: { family: string; local: string; prefixlen: number }[] }[];
  const routes = JSON.parse(await mustRun("ip", ["-n", pair.guestNs, "-j", "-4", "route", "show", "dev", pair.guestIf])) as { dst: string; gateway?: string; metrics?: { mtu?: number }[] }[];
  const v4 = addr[0]?.addr_info.find((a) => a.family === "inet");
  let dns: string[] = [];
  if (dir) {
    try {
      dns = readFileSync(join(dir, "etc-upper", "resolv.conf"), "utf8").split("\n").filter((l) => l.startsWith("nameserver")).map((l) => l.split(/\s+/)[1]!);
    } catch { /* no resolv.conf written */ }
  }
  return {
    address: v4?.local,
    prefixLength: v4?.prefixlen,
    gateway: routes.find((r) => r.dst === "default")?.gateway,
    linkMtu: addr[0]!.mtu,
    routes: routes.map((r) => ({ dst: r.dst, gateway: r.gateway, mtu: r.metrics?.find((m) => m.mtu !== undefined)?.mtu })),
    dns,
  };
}

/** Back to a bare link: no client running, no addresses or routes, the given link MTU. */
export async function resetGuest(pair: NetnsPair, linkMtu: number): Promise<void> {
  await pair.killGuestProcesses();
  const ip = (...a: string[]) => mustRun("ip", ["-n", pair.guestNs, ...a]);
  await ip("link", "set", pair.guestIf, "down");
  await ip("addr", "flush", "dev", pair.guestIf);
  await run("ip", ["-n", pair.guestNs, "-4", "route", "flush", "dev", pair.guestIf]);
  await run("ip", ["-n", pair.guestNs, "-6", "route", "flush", "dev", pair.guestIf]);
  await ip("link", "set", pair.guestIf, "mtu", String(linkMtu));
  await mustRun("ip", ["netns", "exec", pair.guestNs, "sysctl", "-qw",
    `net.ipv6.conf.${pair.guestIf}.forwarding=0`, `net.ipv6.conf.${pair.guestIf}.accept_ra=1`,
    `net.ipv6.conf.${pair.guestIf}.autoconf=1`, `net.ipv6.conf.${pair.guestIf}.accept_ra_mtu=1`,
    `net.ipv6.conf.${pair.guestIf}.accept_dad=0`]);
  await ip("link", "set", pair.guestIf, "up");
  // The link-local address appears once the veth carrier is up; RS/RA need it.
  await waitFor(async () => {
    const out = await mustRun("ip", ["-n", pair.guestNs, "-6", "addr", "show", "dev", pair.guestIf, "scope", "link", "-tentative"]);
    return out.includes("inet6") ? true : undefined;
  }, 5000, 100);
}

export async function runDhclient(pair: NetnsPair, dir: string): Promise<RunResult> {
  // -1: one attempt; dhclient forks to the background once bound (resetGuest kills it).
  return pair.inGuestIsolated(dir, "dhclient", ["-1", "-v", "-lf", join(dir, "leases"), "-pf", join(dir, "pid"), pair.guestIf], { timeoutMs: 40_000 });
}

export async function runUdhcpc(pair: NetnsPair, dir: string, extra: string[] = []): Promise<RunResult> {
  return pair.inGuestIsolated(dir, "udhcpc", ["-i", pair.guestIf, "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", "/etc/udhcpc/default.script", ...extra], { timeoutMs: 40_000 });
}

export async function runDhcpcd(pair: NetnsPair, dir: string): Promise<RunResult> {
  return pair.inGuestIsolated(dir, "dhcpcd", ["-4", "-1", "-d", "-t", "30", pair.guestIf], { timeoutMs: 60_000 });
}

export interface Rdisc6Result {
  mtu?: number;
  prefix?: string;
  managed?: string;
  other?: string;
  rdnss: string[];
  raw: string;
}

export async function runRdisc6(pair: NetnsPair): Promise<Rdisc6Result> {
  const r = await pair.inGuest("rdisc6", ["-1", "-w", "2000", "-r", "5", pair.guestIf], { timeoutMs: 20_000 });
  const out = r.stdout;
  const field = (re: RegExp) => re.exec(out)?.[1]?.trim();
  const mtu = field(/^\s*MTU\s*:\s*(\d+)/m);
  return {
    mtu: mtu === undefined ? undefined : Number(mtu),
    prefix: field(/^\s*Prefix\s*:\s*(\S+)/m),
    managed: field(/Stateful address conf.*:\s*(\S+)/),
    other: field(/Stateful other conf.*:\s*(\S+)/),
    rdnss: [...out.matchAll(/Recursive DNS server\s*:\s*(\S+)/g)].map((m) => m[1]!),
    raw: out + r.stderr,
  };
}

export interface SlaacState {
  ipv6Mtu: number;
  address?: string;
  defaultRouter?: string;
}

export async function slaacState(pair: NetnsPair, prefix: string): Promise<SlaacState> {
  const mtu = Number((await mustRun("ip", ["netns", "exec", pair.guestNs, "cat", `/proc/sys/net/ipv6/conf/${pair.guestIf}/mtu`])).trim());
  const addrs = JSON.parse(await mustRun("ip", ["-n", pair.guestNs, "-j", "-6", "addr", "show", "dev", pair.guestIf, "scope", "global", "-tentative", "to", prefix])) as { addr_info: { local: string }[] }[];
  const routes = JSON.parse(await mustRun("ip", ["-n", pair.guestNs, "-j", "-6", "route", "show", "default", "dev", pair.guestIf])) as { gateway?: string }[];
  return { ipv6Mtu: mtu, address: addrs[0]?.addr_info[0]?.local, defaultRouter: routes[0]?.gateway };
}

/** Waits for the kernel's SLAAC to reach the expected IPv6 MTU with an address and a default route. */
export async function waitSlaac(pair: NetnsPair, prefix: string, mtu: number, timeoutMs = 20_000): Promise<SlaacState> {
  let last: SlaacState = { ipv6Mtu: 0 };
  await waitFor(async () => {
    last = await slaacState(pair, prefix);
    return last.ipv6Mtu === mtu && last.address && last.defaultRouter ? last : undefined;
  }, timeoutMs, 250);
  return last;
}

/** Our server, bundled, running in the host namespace. */
export class ServerProcess {
  readonly logLines: Record<string, unknown>[] = [];
  private child?: ChildProcess;
  private stderr = "";

  constructor(private readonly pair: NetnsPair) {}

  static async startJson(pair: NetnsPair, siteJson: string, interfaceSpec: string, extra: string[] = []): Promise<ServerProcess> {
    const s = new ServerProcess(pair);
    await s.start(["--site-json", siteJson, "--interface", interfaceSpec, "--log-level", "debug", ...extra]);
    return s;
  }

  static async startCli(pair: NetnsPair, args: string[]): Promise<ServerProcess> {
    const s = new ServerProcess(pair);
    await s.start(args);
    return s;
  }

  private async start(args: string[]): Promise<void> {
    const bundle = await bundleEntry("server-entry");
    this.child = this.pair.spawnInHost(process.execPath, [bundle, ...args]);
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (chunk: string) => {
      this.stderr += chunk;
      let nl: number;
      while ((nl = this.stderr.indexOf("\n")) >= 0) {
        const line = this.stderr.slice(0, nl);
        this.stderr = this.stderr.slice(nl + 1);
        try { this.logLines.push(JSON.parse(line) as Record<string, unknown>); } catch { this.logLines.push({ raw: line }); }
      }
    });
    const started = await waitFor(async () => this.logLines.find((l) => l.event === "started" || l.event === "start-failed" || l.event === "inventory-invalid"), 15_000, 100);
    if (!started || started.event !== "started") throw new Error(`server did not start: ${JSON.stringify(this.logLines)}`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  events(name: string): Record<string, unknown>[] {
    return this.logLines.filter((l) => l.event === name);
  }

  async waitEvent(name: string, pred: (l: Record<string, unknown>) => boolean = () => true, timeoutMs = 10_000): Promise<Record<string, unknown> | undefined> {
    return waitFor(async () => this.logLines.find((l) => l.event === name && pred(l)), timeoutMs, 100);
  }

  /** SIGHUP to the node process (the child of `ip netns exec`, which execs into it). */
  hup(): void {
    if (this.child?.pid) process.kill(this.child.pid, "SIGHUP");
  }

  async stop(): Promise<number | null> {
    const c = this.child;
    if (!c || !this.alive) return c?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => c.once("exit", (code) => r(code)));
    process.kill(c.pid!, "SIGTERM");
    return exited;
  }
}

export interface ProbeReply {
  port: number;
  from: string;
  hex: string;
}

/** Sends crafted datagrams from the guest namespace and returns what came back. */
export async function probe(pair: NetnsPair, spec: { listen: number[]; send: { bytes: Uint8Array; to: string; port: number; fromPort: number }[]; waitMs: number; gapMs?: number }): Promise<ProbeReply[]> {
  const bundle = await bundleEntry("probe-entry");
  const json = JSON.stringify({
    ifname: pair.guestIf, listen: spec.listen, waitMs: spec.waitMs, gapMs: spec.gapMs,
    send: spec.send.map((s) => ({ hex: Buffer.from(s.bytes).toString("hex"), to: s.to, port: s.port, fromPort: s.fromPort })),
  });
  const r = await pair.inGuest(process.execPath, [bundle, json], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as ProbeReply);
}

/**
 * One UDP counter of a namespace (/proc/net/snmp is per network namespace), e.g. OutDatagrams of
 * the guest side: a veth delivers each datagram into the server's socket before the send returns.
 */
export async function udpCounter(pair: NetnsPair, side: "host" | "guest", name: string): Promise<number> {
  const r = side === "host" ? await pair.inHost("cat", ["/proc/net/snmp"]) : await pair.inGuest("cat", ["/proc/net/snmp"]);
  const [names, values] = r.stdout.split("\n").filter((l) => l.startsWith("Udp:")).map((l) => l.split(/\s+/));
  return Number(values![names!.indexOf(name)]);
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value));
}

export { repoRoot };
