// Network namespaces for tests that talk to real network programs. Every name carries a random
// id, so parallel runs never collide, and everything a test creates is torn down by cleanup()
// (processes by the PIDs we started or that live in our namespaces, then the namespaces; a veth
// pair disappears with its namespace). Nothing here touches the host's interfaces or /etc.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never rejects on a non-zero exit; the caller asserts). */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      // execFile reports a non-zero exit as err.code (a number), a missing program as "ENOENT",
      // and a timeout kill with no code at all.
      let code: number | null = 0;
      if (err) {
        const c = (err as { code?: unknown }).code;
        code = typeof c === "number" ? c : c === "ENOENT" ? 127 : null;
      }
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export async function mustRun(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Fails loudly when a program the tests need is missing: a missing peer is a failed test, never a skip. */
export async function requirePrograms(names: string[]): Promise<void> {
  const missing: string[] = [];
  for (const n of names) {
    const r = await run("sh", ["-c", `command -v ${n}`]);
    if (r.code !== 0) missing.push(n);
  }
  if (missing.length) throw new Error(`missing programs needed by this test: ${missing.join(", ")} (see scripts/install-test-deps.sh)`);
  if (process.getuid?.() !== 0) throw new Error("network namespace tests must run as root");
}

export interface LinkOptions {
  /** MTU of both veth ends. */
  mtu?: number;
  /** MAC of the guest end. */
  guestMac?: string;
  /** Addresses (CIDR form) on the host end; IPv6 ones are added without DAD. */
  hostAddresses?: string[];
}

/**
 * Two namespaces, "host" and "guest", joined by a veth pair: hostIf in the host namespace,
 * guestIf in the guest one.
 */
export class NetnsPair {
  readonly id = randomBytes(3).toString("hex");
  readonly hostNs = `gl-${this.id}-h`;
  readonly guestNs = `gl-${this.id}-g`;
  readonly hostIf = `glh${this.id}`;
  readonly guestIf = `glg${this.id}`;
  private readonly children = new Set<ChildProcess>();
  private created = false;

  async create(o: LinkOptions = {}): Promise<this> {
    await mustRun("ip", ["netns", "add", this.hostNs]);
    this.created = true;
    await mustRun("ip", ["netns", "add", this.guestNs]);
    const guestMac = o.guestMac ? ["address", o.guestMac] : [];
    await mustRun("ip", ["link", "add", this.hostIf, "netns", this.hostNs, "type", "veth", "peer", "name", this.guestIf, "netns", this.guestNs, ...guestMac]);
    for (const [ns, dev] of [[this.hostNs, this.hostIf], [this.guestNs, this.guestIf]] as const) {
      await mustRun("ip", ["-n", ns, "link", "set", "lo", "up"]);
      if (o.mtu) await mustRun("ip", ["-n", ns, "link", "set", dev, "mtu", String(o.mtu)]);
    }
    // No DAD on the host end: its link-local address is usable (as the RA source) at once.
    await this.inHost("sysctl", ["-qw", `net.ipv6.conf.${this.hostIf}.accept_dad=0`]);
    for (const a of o.hostAddresses ?? []) {
      await mustRun("ip", ["-n", this.hostNs, "addr", "add", a, "dev", this.hostIf, ...(a.includes(":") ? ["nodad"] : [])]);
    }
    await mustRun("ip", ["-n", this.hostNs, "link", "set", this.hostIf, "up"]);
    await mustRun("ip", ["-n", this.guestNs, "link", "set", this.guestIf, "up"]);
    return this;
  }

  inHost(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return run("ip", ["netns", "exec", this.hostNs, cmd, ...args], opts);
  }

  inGuest(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return run("ip", ["netns", "exec", this.guestNs, cmd, ...args], opts);
  }

  /**
   * Runs a command in the guest namespace with private /etc, /var (overlays whose upper layers are
   * under stateDir), /run (tmpfs) and host name: `ip netns exec` already gives it a private mount namespace,
   * so DHCP clients can write resolv.conf, lease and pid files without touching this machine's.
   */
  inGuestIsolated(stateDir: string, cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return run("ip", ["netns", "exec", this.guestNs, ...ISOLATE_PREFIX, isolationScript(stateDir), "isolate", cmd, ...args], opts);
  }

  /** Same isolation, as a long-running child (killed in cleanup). */
  spawnGuestIsolated(stateDir: string, cmd: string, args: string[]): ChildProcess {
    return this.track(spawn("ip", ["netns", "exec", this.guestNs, ...ISOLATE_PREFIX, isolationScript(stateDir), "isolate", cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true }));
  }

  spawnInHost(cmd: string, args: string[]): ChildProcess {
    return this.track(spawn("ip", ["netns", "exec", this.hostNs, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true }));
  }

  spawnInGuest(cmd: string, args: string[]): ChildProcess {
    return this.track(spawn("ip", ["netns", "exec", this.guestNs, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true }));
  }

  private track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /** Kills every process left in the guest namespace (a daemonized DHCP client, say). */
  async killGuestProcesses(): Promise<void> {
    await killNamespaceProcesses(this.guestNs);
  }

  async cleanup(): Promise<void> {
    for (const c of this.children) {
      if (c.pid) {
        try { process.kill(-c.pid, "SIGTERM"); } catch { /* already gone */ }
      }
    }
    if (!this.created) return;
    await killNamespaceProcesses(this.guestNs);
    await killNamespaceProcesses(this.hostNs);
    for (const c of this.children) {
      if (c.pid) {
        try { process.kill(-c.pid, "SIGKILL"); } catch { /* already gone */ }
      }
    }
    await run("ip", ["netns", "del", this.guestNs]);
    await run("ip", ["netns", "del", this.hostNs]);
  }
}

// A private UTS namespace too: dhclient-script and dhcpcd's hostname hook may set the host name
// from option 12, which must not rename this machine.
const ISOLATE_PREFIX = ["unshare", "--uts", "sh", "-c"];

function isolationScript(stateDir: string): string {
  for (const d of ["etc-upper", "etc-work", "var-upper", "var-work"]) mkdirSync(`${stateDir}/${d}`, { recursive: true });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    "set -e",
    "mount --make-rslave / 2>/dev/null || true",
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${q(`${stateDir}/etc-upper`)},workdir=${q(`${stateDir}/etc-work`)} /etc`,
    `mount -t overlay overlay -o lowerdir=/var,upperdir=${q(`${stateDir}/var-upper`)},workdir=${q(`${stateDir}/var-work`)} /var`,
    "mount -t tmpfs -o mode=755 tmpfs /run",
    'exec "$@"',
  ].join("\n");
}

async function killNamespaceProcesses(ns: string): Promise<void> {
  for (const signal of ["TERM", "KILL"]) {
    const r = await run("ip", ["netns", "pids", ns]);
    const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p > 1 && p !== process.pid);
    if (pids.length === 0) return;
    for (const p of pids) {
      try { process.kill(p, `SIG${signal}` as NodeJS.Signals); } catch { /* gone */ }
    }
    await new Promise((r2) => setTimeout(r2, 300));
  }
}

/** Polls until check() returns a value (not undefined), or returns the last failure after timeoutMs. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 200): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= end) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
