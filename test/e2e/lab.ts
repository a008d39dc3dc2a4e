// The end-to-end lab: one network namespace standing in for a hypervisor, with a Linux bridge and a
// tap device per guest NIC, our server and DHCP/RA daemon running inside it, and a Debian guest
// booted by QEMU (TCG) on those taps. Nothing here touches the host's own interfaces: every link,
// address and listener lives in the namespace, which cleanup() deletes after killing exactly the
// processes this lab started.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");
export const GUESTLINK = join(REPO, "bin/guestlink");

/** Step timings, printed at the end of the run (the issue asks for them; they are recorded, not gated). */
export class StepClock {
  private readonly started = Date.now();
  private readonly steps: { name: string; seconds: number }[] = [];
  mark(name: string, since = this.started): number {
    const seconds = (Date.now() - since) / 1000;
    this.steps.push({ name, seconds });
    console.log(`[e2e] ${name}: ${seconds.toFixed(1)} s`);
    return seconds;
  }
  summary(): string {
    return this.steps.map((s) => `${s.name.padEnd(40)} ${s.seconds.toFixed(1).padStart(6)} s`).join("\n");
  }
}

export function sh(program: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(program, args, { encoding: "utf8", timeout: opts.timeoutMs ?? 60_000, input: opts.input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${program} ${args.join(" ")} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? "")).trim()}`);
  return r.stdout;
}

export interface BridgeSpec {
  /** Addresses of the host side (the bridge), CIDR form. */
  addresses: string[];
  mtu: number;
}

export class Lab {
  readonly ns = `gle2e${randomBytes(3).toString("hex")}`;
  private readonly children = new Map<string, ChildProcess>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  create(bridges: BridgeSpec[]): void {
    sh("ip", ["netns", "add", this.ns]);
    this.ip("link", "set", "lo", "up");
    bridges.forEach((b, i) => {
      this.ip("link", "add", `br${i}`, "type", "bridge");
      this.ip("tuntap", "add", "dev", `tap${i}`, "mode", "tap");
      // A bridge takes the smallest MTU of its ports, so the tap is set first.
      this.ip("link", "set", `tap${i}`, "mtu", String(b.mtu));
      this.ip("link", "set", `tap${i}`, "master", `br${i}`);
      this.ip("link", "set", `br${i}`, "mtu", String(b.mtu));
      for (const a of b.addresses) this.ip("addr", "add", a, "dev", `br${i}`, ...(a.includes(":") ? ["nodad"] : []));
      this.ip("link", "set", `tap${i}`, "up");
      this.ip("link", "set", `br${i}`, "up");
    });
  }

  ip(...args: string[]): string {
    return sh("ip", ["-n", this.ns, ...args]);
  }

  /** Starts a long-running program inside the namespace; its output goes to DIR/NAME.log. */
  spawn(name: string, program: string, args: string[]): ChildProcess {
    const log = openSync(join(this.dir, `${name}.log`), "a");
    const child = spawn("ip", ["netns", "exec", this.ns, program, ...args], { stdio: ["ignore", log, log] });
    closeSync(log);
    this.children.set(name, child);
    return child;
  }

  log(name: string): string {
    const path = join(this.dir, `${name}.log`);
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  running(name: string): boolean {
    const c = this.children.get(name);
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  /** Resolves when the named process has exited, or rejects after timeoutMs. */
  exited(name: string, timeoutMs: number): Promise<number | null> {
    const c = this.children.get(name);
    if (!c || !this.running(name)) return Promise.resolve(c?.exitCode ?? null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${name} still running after ${timeoutMs / 1000} s`)), timeoutMs);
      c.once("exit", (code) => { clearTimeout(t); resolve(code); });
    });
  }

  signal(name: string, sig: NodeJS.Signals): void {
    if (this.running(name)) this.children.get(name)!.kill(sig);
  }

  /** Runs a short command in the namespace (for example the CLI against the server's loopback API). */
  exec(program: string, args: string[], timeoutMs = 30_000): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("ip", ["netns", "exec", this.ns, program, ...args], { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** GET on the server's operator API, which listens only on the namespace's loopback. */
  getJson(url: string): unknown {
    const r = this.exec(process.execPath, ["-e", `fetch(${JSON.stringify(url)}).then(async (r) => { process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })); })`]);
    if (r.status !== 0) throw new Error(`GET ${url}: ${r.stderr.trim()}`);
    const { status, body } = JSON.parse(r.stdout) as { status: number; body: string };
    if (status !== 200) throw new Error(`GET ${url}: ${status} ${body.slice(0, 200)}`);
    return JSON.parse(body);
  }

  /** Ends every process this lab started (SIGTERM, then SIGKILL), then deletes the namespace. */
  async cleanup(): Promise<void> {
    for (const [name, c] of this.children) {
      if (!this.running(name)) continue;
      c.kill("SIGTERM");
      try {
        await this.exited(name, 10_000);
      } catch {
        c.kill("SIGKILL");
      }
    }
    spawnSync("ip", ["netns", "del", this.ns]);
  }
}
