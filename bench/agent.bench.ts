// Our agent next to qemu-ga 7.2 in one run: round-trip latency over the unix socket, idle memory,
// idle CPU and start-up time. Run: node bench/run.mjs agent
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, existsSync, mkdirSync } from "node:fs";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./stats.ts";

const ROUND_TRIPS = 2000;
const IDLE_CPU_WINDOW_MS = 10_000;
/** The Node that runs our agent (AGENT_BENCH_NODE, e.g. Debian 12's node 18 from scripts/fetch-node18.sh) and its flags. */
const AGENT_NODE = process.env.AGENT_BENCH_NODE || process.execPath;
const AGENT_NODE_FLAGS = (process.env.AGENT_BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const STARTUP_RUNS = 5;
const TARGET_RTT_RATIO = 1.5;
const TARGET_RSS_MIB = 45;

const repo = resolve(process.cwd());
const work = mkdtempSync(join(tmpdir(), "guestlink-bench-agent-"));
const children: ChildProcess[] = [];

/** The shipped bundle (npm run bench builds it first): the numbers are for what ships. */
function buildBundle(): string {
  const bundle = join(repo, "bin", "guestlink-agent");
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
  return bundle;
}

function qemuGa(): string {
  for (const p of ["/usr/sbin/qemu-ga", "/usr/bin/qemu-ga"]) if (existsSync(p)) return p;
  throw new Error("qemu-ga not found (apt-get install qemu-guest-agent)");
}

interface Agent { name: string; child: ChildProcess; socket: string }

function start(name: "ours" | "theirs", bundle: string, tag: string): Agent {
  const dir = join(work, `${name}-${tag}`);
  mkdirSync(join(dir, "state"), { recursive: true });
  const socket = join(dir, "s");
  const args = ["-m", "unix-listen", "-p", socket, "-t", join(dir, "state"), "-f", join(dir, "pid")];
  const child = name === "ours" ? spawn(AGENT_NODE, [...AGENT_NODE_FLAGS, bundle, ...args], { stdio: "ignore" }) : spawn(qemuGa(), args, { stdio: "ignore" });
  children.push(child);
  return { name, child, socket };
}

async function stop(a: Agent): Promise<void> {
  if (a.child.exitCode !== null || a.child.signalCode !== null) return;
  const gone = new Promise((r) => a.child.once("exit", r));
  a.child.kill("SIGKILL");
  await gone;
}

class Client {
  private buf = "";
  private wait: (() => void) | null = null;
  constructor(readonly sock: Socket) {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      this.buf += d;
      this.wait?.();
    });
  }
  static open(path: string): Promise<Client> {
    return new Promise((res, rej) => {
      const s = connect(path, () => res(new Client(s)));
      s.once("error", rej);
    });
  }
  async call(req: string): Promise<string> {
    this.sock.write(req);
    while (!this.buf.includes("\n")) await new Promise<void>((r) => (this.wait = r));
    const nl = this.buf.indexOf("\n");
    const line = this.buf.slice(0, nl);
    this.buf = this.buf.slice(nl + 1);
    return line;
  }
}

async function firstSync(path: string, t0: bigint): Promise<number> {
  for (;;) {
    try {
      const c = await Client.open(path);
      const r = await c.call('{"execute":"guest-sync","arguments":{"id":1}}');
      c.sock.destroy();
      if (r === '{"return": 1}') return Number(process.hrtime.bigint() - t0) / 1e6;
    } catch {
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}


async function rtt(a: Agent, req: string): Promise<number> {
  const c = await Client.open(a.socket);
  for (let i = 0; i < 50; i++) await c.call(req); // warm-up
  const times: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t = process.hrtime.bigint();
    await c.call(req);
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  c.sock.destroy();
  return median(times);
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime
}

const fmt = (n: number, d = 1): string => n.toFixed(d);

async function main(): Promise<void> {
  const bundle = buildBundle();
  console.log(`${ROUND_TRIPS} sequential round trips per command over a unix socket; medians`);

  // Start-up to the first answered guest-sync.
  const startup: Record<string, number[]> = { ours: [], theirs: [] };
  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const name of ["ours", "theirs"] as const) {
      const t0 = process.hrtime.bigint();
      const a = start(name, bundle, `startup${i}`);
      startup[name]!.push(await firstSync(a.socket, t0));
      await stop(a);
    }
  }

  const ours = start("ours", bundle, "main");
  const theirs = start("theirs", bundle, "main");
  await firstSync(ours.socket, process.hrtime.bigint());
  await firstSync(theirs.socket, process.hrtime.bigint());

  const rows: [string, number, number][] = [];
  for (const [label, req] of [["guest-ping", '{"execute":"guest-ping"}'], ["guest-network-get-interfaces", '{"execute":"guest-network-get-interfaces"}']] as const) {
    const o = await rtt(ours, req);
    const t = await rtt(theirs, req);
    rows.push([label, o, t]);
  }
  for (const [label, o, t] of rows) {
    console.log(`${label.padEnd(30)} ours ${fmt(o)} µs   qemu-ga ${fmt(t)} µs   ratio ${fmt(o / t, 2)} (target <= ${TARGET_RTT_RATIO})`);
  }

  // Idle window: CPU over IDLE_CPU_WINDOW_MS, then memory once the agents have been quiet all that time.
  const c0 = [cpuTicks(ours.child.pid!), cpuTicks(theirs.child.pid!)];
  await new Promise((r) => setTimeout(r, IDLE_CPU_WINDOW_MS));
  const c1 = [cpuTicks(ours.child.pid!), cpuTicks(theirs.child.pid!)];
  const hz = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || "100");
  const pct = (d: number): number => (d / hz / (IDLE_CPU_WINDOW_MS / 1000)) * 100;
  console.log(`idle CPU over ${IDLE_CPU_WINDOW_MS / 1000} s               ours ${fmt(pct(c1[0]! - c0[0]!), 2)} %   qemu-ga ${fmt(pct(c1[1]! - c0[1]!), 2)} %   (target 0 %)`);
  const rssOurs = rssMiB(ours.child.pid!);
  const rssTheirs = rssMiB(theirs.child.pid!);
  console.log(`idle RSS                       ours ${fmt(rssOurs)} MiB   qemu-ga ${fmt(rssTheirs)} MiB   ratio ${fmt(rssOurs / rssTheirs, 1)} (target <= ${TARGET_RSS_MIB} MiB)`);
  const baseline = spawnSync(process.execPath, ["-e", "setTimeout(() => console.log(process.memoryUsage().rss), 500)"], { encoding: "utf8" });
  console.log(`  (an empty node process here: ${fmt(Number(baseline.stdout) / 1048576)} MiB)`);
  console.log(`start-up to first guest-sync   ours ${fmt(median(startup.ours!))} ms   qemu-ga ${fmt(median(startup.theirs!))} ms   ratio ${fmt(median(startup.ours!) / median(startup.theirs!), 1)}`);
  await stop(ours);
  await stop(theirs);
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });
