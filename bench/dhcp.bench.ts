// DHCPv4 DORA throughput: our server against Kea 2.2 (memfile, persist=false) and dnsmasq
// (no-ping quiet-dhcp leasefile-ro), measured side by side in one run by Kea's perfdhcp.
//
// Topology: netns gl-bench-<id>-s (veth 198.18.0.1/15) <-> gl-bench-<id>-c (198.18.0.2/15).
// perfdhcp acts as a relay (giaddr 198.18.0.2) and draws client MACs from a list of the 10,000
// reserved MACs, so every server answers every exchange from a reservation. The server runs on
// CPU 1 and perfdhcp on CPU 0. Each run lasts PERIOD seconds (-p) and is killed if it overruns;
// each server is started fresh per run. Namespaces and processes are removed at the end, also
// on failure.
//
// perfdhcp runs in two thread modes. "multi" (its default, and the mode of the 9,700/s anchor)
// reads replies on a second thread; pinned to one core, that thread and the sending thread take
// turns, and replies that arrive faster than the reading thread gets the core are dropped in
// perfdhcp's own socket (the client-side RcvbufErrors below). "single" reads every queued reply
// before it sends the next request, so the client wastes less and the server matters more.
// Both are printed; neither is the one true number.
//
// For each run the bench prints the kernel's UDP counters of both namespaces (where exchanges
// were lost), which side's socket overflowed (the run's limit), and the server's CPU time per
// reply sent, which does not depend on the client. Each case ends with the ratio of the medians
// and each round's own ratio.
//
// Env: DHCP_BENCH_PERIOD (s, default 10), DHCP_BENCH_RESERVATIONS (default 10000),
//      DHCP_BENCH_CASES (default "max/multi max/single 5000/multi": rate/perfdhcp thread mode),
//      DHCP_BENCH_ROUNDS (default 3; medians are compared), DHCP_BENCH_SERVERS (default all three),
//      DHCP_BENCH_BATCH_SLOTS (our batchSlots; 0 = one datagram per system call),
//      DHCP_BENCH_NODE_FLAGS (extra node flags for ours, e.g. --cpu-prof).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./stats.ts";

const PERIOD = Number(process.env.DHCP_BENCH_PERIOD ?? 10);
const RESERVATIONS = Number(process.env.DHCP_BENCH_RESERVATIONS ?? 10_000);
const ROUNDS = Number(process.env.DHCP_BENCH_ROUNDS ?? 3);
interface BenchCase { rate: string; threads: "multi" | "single" }
const CASES: BenchCase[] = (process.env.DHCP_BENCH_CASES ?? "max/multi max/single 5000/multi").split(/\s+/).filter(Boolean).map((c) => {
  const [rate, threads = "multi"] = c.split("/");
  if (!rate || !/^(max|\d+)$/.test(rate) || (threads !== "multi" && threads !== "single")) throw new Error(`bad case ${c}: write RATE/multi or RATE/single`);
  return { rate, threads };
});
const caseName = (c: BenchCase) => `${c.rate}/${c.threads}`;
/** Which servers to run (default all three), and extra node flags for ours (e.g. --cpu-prof) when profiling. */
const SERVERS = (process.env.DHCP_BENCH_SERVERS ?? "guestlink kea dnsmasq").split(/\s+/).filter(Boolean);
const OUR_NODE_FLAGS = (process.env.DHCP_BENCH_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
const SERVER_CPU = "1";
const CLIENT_CPU = "0";
const RUN_GRACE_MS = 15_000;

const id = randomBytes(3).toString("hex");
const SNS = `gl-bench-${id}-s`;
const CNS = `gl-bench-${id}-c`;
const SIF = `glbs${id}`;
const CIF = `glbc${id}`;
const repoRoot = resolve(process.cwd());
const work = mkdtempSync(join(tmpdir(), "gl-dhcp-bench-"));
const children = new Set<ChildProcess>();

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  if (!allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.error}`);
  return r.stdout ?? "";
}

function macOf(i: number): string {
  return `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
}

function addressOf(i: number): string {
  const v = ((198 << 24) | (18 << 16) | (1 << 8)) + i;
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function siteJson(): unknown {
  const vms = [];
  for (let i = 0; i < RESERVATIONS; i++) {
    vms.push({
      id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`, name: `vm${i}`, hostname: `vm${i}`, fqdn: `vm${i}.bench.test`,
      sshKeys: [], userData: "", dns: { servers: [], search: [] },
      interfaces: [{
        name: "eth0", kind: "physical", mac: macOf(i), network: "bench", mtu: { value: 1400, because: ["bench"] }, mtuInCloudInit: false,
        ipv4: { method: "dhcp", address: addressOf(i), prefixLength: 15, netmask: "255.254.0.0", gateway: "198.18.0.1", origin: "inventory" },
        routes: [], dns: { servers: [], search: [] },
      }],
    });
  }
  return {
    revision: "bench", domain: "bench.test", hosts: [], vms,
    networks: [{
      name: "bench", type: "bridge", encapsulation: "none", mtu: { value: 1400, because: ["bench"] }, mtuPolicy: "prefer-dhcp",
      ipv4: { cidr: "198.18.0.0/15", prefixLength: 15, netmask: "255.254.0.0", gateway: "198.18.0.1", dhcp: true, leaseTime: 3600 },
      dns: { servers: ["198.18.0.53"], search: [] },
      routes: [{ to: "198.51.100.0/24", via: "198.18.0.254" }],
    }],
  };
}

function keaConfig(): unknown {
  const reservations = [];
  // Every server sends the same options ours does: the client's cost to parse a reply (perfdhcp
  // is the bottleneck at full speed) must not differ by server. Ours adds host name, domain name
  // and T1/T2 to what the inventory asks for.
  for (let i = 0; i < RESERVATIONS; i++) {
    reservations.push({ "hw-address": macOf(i), "ip-address": addressOf(i), "option-data": [{ name: "host-name", data: `vm${i}`, "always-send": true }] });
  }
  return {
    Dhcp4: {
      "interfaces-config": { interfaces: [SIF], "dhcp-socket-type": "udp" },
      "lease-database": { type: "memfile", persist: false, "lfc-interval": 0 },
      "multi-threading": { "enable-multi-threading": false },
      "host-reservation-identifiers": ["hw-address"],
      "valid-lifetime": 3600,
      "renew-timer": 1800,
      "rebind-timer": 3150,
      subnet4: [{
        id: 1, subnet: "198.18.0.0/15", reservations,
        "option-data": [
          { name: "routers", data: "198.18.0.1" },
          { name: "domain-name-servers", data: "198.18.0.53" },
          { name: "domain-name", data: "bench.test", "always-send": true },
          { name: "interface-mtu", data: "1400", "always-send": true },
          { code: 121, "csv-format": false, data: "18C63364C61200FE00C6120001", "always-send": true },
        ],
      }],
      loggers: [{ name: "kea-dhcp4", severity: "WARN", output_options: [{ output: join(work, "kea.log") }] }],
    },
  };
}

function dnsmasqConfig(): string {
  const lines = [
    "port=0", `interface=${SIF}`, "bind-interfaces", "no-resolv", "no-hosts", "dhcp-authoritative",
    "no-ping", "quiet-dhcp", "leasefile-ro", "dhcp-lease-max=1000000",
    "dhcp-range=198.18.0.0,static,255.254.0.0,3600",
    "dhcp-option-force=option:router,198.18.0.1",
    "dhcp-option-force=option:dns-server,198.18.0.53",
    "dhcp-option-force=option:domain-name,bench.test",
    "dhcp-option-force=option:mtu,1400",
    "dhcp-option-force=option:classless-static-route,198.51.100.0/24,198.18.0.254,0.0.0.0/0,198.18.0.1",
  ];
  for (let i = 0; i < RESERVATIONS; i++) lines.push(`dhcp-host=${macOf(i)},${addressOf(i)},vm${i}`);
  return `${lines.join("\n")}\n`;
}

/** Bundles our daemon (the same code `guestlink dhcp` runs) with koffi left external. */
function buildOurServer(): string {
  const outDir = join(repoRoot, "test-artifacts");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `dhcp-bench-server-${id}.cjs`);
  const entry = `
    import { readFile } from "node:fs/promises";
    import { runDhcpDaemon } from "./metadata-server/dhcp/daemon.ts";
    import { jsonLogger } from "./metadata-server/dhcp/service.ts";
    const [sitePath, ifname] = process.argv.slice(2);
    const log = jsonLogger("warn");
    runDhcpDaemon({
      load: async () => ({ site: JSON.parse(await readFile(sitePath, "utf8")), issues: [] }),
      interfaces: [{ ifname, network: "bench" }], log,
      service: {
        log, enableRa: false,
        ...(process.env.DHCP_BENCH_RCVBUF ? { receiveBufferBytes: Number(process.env.DHCP_BENCH_RCVBUF) } : {}),
        ...(process.env.DHCP_BENCH_BATCH_SLOTS ? { batchSlots: Number(process.env.DHCP_BENCH_BATCH_SLOTS) } : {}),
      },
    }).then((code) => { process.exitCode = code; });
  `;
  const script = `require("esbuild").buildSync(${JSON.stringify({
    stdin: { contents: entry, resolveDir: repoRoot, loader: "ts", sourcefile: "dhcp-bench-entry.ts" },
    outfile, bundle: true, platform: "node", format: "cjs", target: "node20", external: ["koffi"], logLevel: "error",
  })})`;
  const r = spawnSync(process.execPath, ["-e", script], { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building our server failed: ${r.stderr}`);
  return outfile;
}

function setup(): void {
  sh("ip", ["netns", "add", SNS]);
  sh("ip", ["netns", "add", CNS]);
  sh("ip", ["link", "add", SIF, "netns", SNS, "type", "veth", "peer", "name", CIF, "netns", CNS]);
  for (const [ns, dev, addr] of [[SNS, SIF, "198.18.0.1/15"], [CNS, CIF, "198.18.0.2/15"]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "addr", "add", addr, "dev", dev]);
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
  }
}

function killNs(ns: string): void {
  for (const sig of ["SIGTERM", "SIGKILL"] as const) {
    const pids = sh("ip", ["netns", "pids", ns], true).split(/\s+/).filter(Boolean).map(Number);
    for (const p of pids) { try { process.kill(p, sig); } catch { /* gone */ } }
    if (pids.length) spawnSync("sleep", ["0.3"]);
  }
}

function cleanup(): void {
  for (const c of children) { try { if (c.pid) process.kill(-c.pid, "SIGKILL"); } catch { /* gone */ } }
  for (const ns of [CNS, SNS]) {
    killNs(ns);
    sh("ip", ["netns", "del", ns], true);
  }
  rmSync(work, { recursive: true, force: true });
  rmSync(join(repoRoot, "test-artifacts", `dhcp-bench-server-${id}.cjs`), { force: true });
}

function startServer(name: string, ours: string): ChildProcess {
  let args: string[];
  const env = { ...process.env, KEA_PIDFILE_DIR: work, KEA_LOCKFILE_DIR: work };
  switch (name) {
    case "guestlink": args = [process.execPath, ...OUR_NODE_FLAGS, ours, join(work, "site.json"), SIF]; break;
    case "kea": args = ["kea-dhcp4", "-c", join(work, "kea.json")]; break;
    default: args = ["dnsmasq", "-k", "-C", join(work, "dnsmasq.conf"), `--pid-file=${join(work, "dnsmasq.pid")}`];
  }
  const c = spawn("ip", ["netns", "exec", SNS, "taskset", "-c", SERVER_CPU, ...args], { stdio: ["ignore", "ignore", "pipe"], detached: true, env });
  let err = "";
  c.stderr!.on("data", (d: Buffer) => { if (err.length < 4000) err += d.toString(); });
  c.on("exit", (code) => { if (code && code !== 0 && !stopping.has(c)) process.stderr.write(`${name} exited ${code}: ${err}\n`); });
  children.add(c);
  return c;
}

const stopping = new Set<ChildProcess>();
async function stopServer(c: ChildProcess): Promise<void> {
  stopping.add(c);
  killNs(SNS);
  await new Promise((r) => setTimeout(r, 300));
  children.delete(c);
}

async function waitListening(): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (sh("ip", ["netns", "exec", SNS, "ss", "-Hlun", "sport = :67"], true).trim()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

interface PerfResult {
  server: string;
  /** The case, as "RATE/THREADS". */
  scenario: string;
  sentDiscover: number;
  receivedOffer: number;
  sentRequest: number;
  receivedAck: number;
  dropsDO: string;
  dropsRA: string;
  acksPerSecond: number;
  avgDelayDO: string;
  avgDelayRA: string;
  kernel: string;
  /** Datagrams each side's kernel dropped because that side's socket was full (RcvbufErrors). */
  serverSocketDrops: number;
  clientSocketDrops: number;
  /** The server's CPU time during the run (user + system, all threads), seconds. */
  serverCpuSeconds: number;
  /** Datagrams the server sent during the run. */
  serverReplies: number;
}

/** The server's CPU time per datagram it sent, µs (NaN when it sent none). */
function cpuPerReplyUs(r: PerfResult): number {
  return r.serverReplies > 0 ? (r.serverCpuSeconds * 1e6) / r.serverReplies : NaN;
}

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** User + system CPU time of a process so far, seconds (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

function parsePerf(server: string, scenario: string, out: string): Omit<PerfResult, "kernel" | "serverSocketDrops" | "clientSocketDrops" | "serverCpuSeconds" | "serverReplies"> {
  const block = (name: string) => out.split(`***Statistics for: ${name}***`)[1]?.split("***")[0] ?? "";
  const num = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const str = (text: string, re: RegExp) => re.exec(text)?.[1]?.trim() ?? "?";
  const dor = block("DISCOVER-OFFER");
  const ra = block("REQUEST-ACK");
  const receivedAck = num(ra, /received packets:\s*(\d+)/);
  return {
    server, scenario,
    sentDiscover: num(dor, /sent packets:\s*(\d+)/), receivedOffer: num(dor, /received packets:\s*(\d+)/),
    sentRequest: num(ra, /sent packets:\s*(\d+)/), receivedAck,
    dropsDO: str(dor, /drops ratio:\s*([^\n]+)/), dropsRA: str(ra, /drops ratio:\s*([^\n]+)/),
    acksPerSecond: Math.round(receivedAck / PERIOD),
    avgDelayDO: str(dor, /avg delay:\s*([^\n]+)/), avgDelayRA: str(ra, /avg delay:\s*([^\n]+)/),
  };
}

/** The namespace's UDP counters (/proc/net/snmp is per network namespace). */
function udpCounters(ns: string): Record<string, number> {
  const lines = sh("ip", ["netns", "exec", ns, "cat", "/proc/net/snmp"]).split("\n").filter((l) => l.startsWith("Udp:"));
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

/** Where datagrams were lost during a run: in the kernel of either side, by cause. */
function kernelDrops(before: Record<string, number>[], after: Record<string, number>[]): string {
  const side = (i: number) => ["InDatagrams", "OutDatagrams", "RcvbufErrors", "InErrors", "NoPorts", "SndbufErrors"].map((k) => `${k} ${after[i]![k]! - before[i]![k]!}`).join(", ");
  return `kernel drops: server side ${side(0)}; client side ${side(1)}`;
}

/**
 * Which side's socket lost the exchanges of a run. perfdhcp sends as fast as it can, so at full
 * speed one side always overflows: the server's socket when the server cannot keep up (the
 * server is the limit), or perfdhcp's own when it cannot read the replies as fast as they come
 * (the client is the limit, and the run says more about perfdhcp than about the server).
 */
function whereLost(r: PerfResult): string {
  const limit = r.serverSocketDrops > r.clientSocketDrops ? "the server" : r.clientSocketDrops > 0 ? "perfdhcp" : "neither";
  return `limit: ${limit} (socket drops: server ${r.serverSocketDrops}, perfdhcp ${r.clientSocketDrops})`;
}

async function perf(server: string, ours: string, benchCase: BenchCase): Promise<PerfResult> {
  const rate = benchCase.rate;
  const c = startServer(server, ours);
  try {
    if (!(await waitListening())) throw new Error(`${server} did not listen on udp/67`);
    await new Promise((r) => setTimeout(r, 500));
    const before = [udpCounters(SNS), udpCounters(CNS)];
    // `ip netns exec` and `taskset` exec the server, so the child's pid is the server's.
    const cpuBefore = cpuSeconds(c.pid!);
    const args = ["netns", "exec", CNS, "taskset", "-c", CLIENT_CPU, "perfdhcp", "-4", ...(rate === "max" ? [] : ["-r", rate]),
      "-g", benchCase.threads, "-p", String(PERIOD), "-M", join(work, "macs.txt"), "-l", "198.18.0.2", "198.18.0.1"];
    const r = spawnSync("ip", args, { encoding: "utf8", timeout: PERIOD * 1000 + RUN_GRACE_MS, killSignal: "SIGKILL" });
    const serverCpuSeconds = cpuSeconds(c.pid!) - cpuBefore;
    const after = [udpCounters(SNS), udpCounters(CNS)];
    return {
      ...parsePerf(server, caseName(benchCase), `${r.stdout}\n${r.stderr}`), kernel: kernelDrops(before, after), serverCpuSeconds,
      serverSocketDrops: after[0]!.RcvbufErrors! - before[0]!.RcvbufErrors!,
      clientSocketDrops: after[1]!.RcvbufErrors! - before[1]!.RcvbufErrors!,
      serverReplies: after[0]!.OutDatagrams! - before[0]!.OutDatagrams!,
    };
  } finally {
    await stopServer(c);
  }
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) { console.error("the DHCP bench needs root (network namespaces)"); return 1; }
  for (const p of ["perfdhcp", "kea-dhcp4", "dnsmasq", "taskset", "ip"]) {
    if (spawnSync("sh", ["-c", `command -v ${p}`]).status !== 0) { console.error(`missing ${p}`); return 1; }
  }
  const macs: string[] = [];
  for (let i = 0; i < RESERVATIONS; i++) macs.push(macOf(i));
  writeFileSync(join(work, "macs.txt"), `${macs.join("\n")}\n`);
  writeFileSync(join(work, "site.json"), JSON.stringify(siteJson()));
  writeFileSync(join(work, "kea.json"), JSON.stringify(keaConfig()));
  writeFileSync(join(work, "dnsmasq.conf"), dnsmasqConfig());
  const ours = buildOurServer();
  setup();
  const results: PerfResult[] = [];
  // ROUNDS interleaved rounds (each server once per round), medians compared: on a shared
  // 2-CPU machine one run of one server can be off by a third.
  for (let round = 0; round < ROUNDS; round++) for (const benchCase of CASES) {
    for (const server of SERVERS) {
      const r = await perf(server, ours, benchCase);
      results.push(r);
      console.log(`${server.padEnd(9)} ${r.scenario.padEnd(12)} DORA/s=${String(r.acksPerSecond).padStart(6)}  offers=${r.receivedOffer}/${r.sentDiscover} (drops ${r.dropsDO})  acks=${r.receivedAck}/${r.sentRequest} (drops ${r.dropsRA})  delay D-O ${r.avgDelayDO}, R-A ${r.avgDelayRA}`);
      console.log(`          ${r.kernel}`);
      console.log(`          server CPU ${r.serverCpuSeconds.toFixed(2)} s (${((r.serverCpuSeconds / PERIOD) * 100).toFixed(0)} % of its core), ${cpuPerReplyUs(r).toFixed(1)} µs per reply sent`);
      console.log(`          ${whereLost(r)}`);
    }
  }
  console.log(`\n${RESERVATIONS} reservations, ${PERIOD} s per run, ${ROUNDS} rounds, server on CPU ${SERVER_CPU}, perfdhcp on CPU ${CLIENT_CPU}`);
  for (const benchCase of CASES) {
    const of = (s: string) => results.filter((r) => r.server === s && r.scenario === caseName(benchCase));
    const dora = (s: string) => median(of(s).map((r) => r.acksPerSecond));
    const cpu = (s: string) => median(of(s).map(cpuPerReplyUs));
    const perServer = SERVERS.map((s) => `${s} ${dora(s)} DORA/s, ${cpu(s).toFixed(1)} µs CPU per reply`).join("; ");
    const ours = dora("guestlink");
    const others = SERVERS.includes("guestlink") ? SERVERS.filter((s) => s !== "guestlink") : [];
    const ratios = others.map((s) => `ours/${s} = ${dora(s) > 0 ? (ours / dora(s)).toFixed(2) : "n/a"}`);
    console.log(`${caseName(benchCase)}: medians ${perServer}${ratios.length ? `; ${ratios.join(", ")}` : ""}`);
    // Each round runs the servers back to back, so a round's own ratio cancels the machine's
    // drift between rounds (on this shared machine one round can be a third off another).
    for (const s of others) {
      const paired = of("guestlink").map((r, i) => r.acksPerSecond / (of(s)[i]?.acksPerSecond ?? NaN)).filter(Number.isFinite);
      if (paired.length) console.log(`  ours/${s} round by round: ${paired.map((x) => x.toFixed(2)).join(", ")}; median ${median(paired).toFixed(2)}`);
    }
  }
  return results.some((r) => r.server === "guestlink" && r.receivedAck === 0) ? 1 : 0;
}

process.on("SIGINT", () => { cleanup(); process.exit(130); });
main().then((code) => { cleanup(); process.exitCode = code; }, (e) => { cleanup(); console.error(e); process.exitCode = 1; });
