// Metadata HTTP service against nginx serving the same documents as static files, in one run.
// Run with: node bench/run.mjs http   (after `npm run build`: it starts bin/guestlink serve)
//
// 1. wrk, 256 connections, NoCloud meta-data by seed token, a random VM per request (Lua).
//    Warmed up, then 3 interleaved rounds per server, medians.
// 2. OpenStack network_data.json: ours identifies the VM by source address, which wrk cannot
//    vary, so a small load generator here binds each connection to a VM's 127.x address; nginx
//    gets the same generator with the document under a per-token path. Each connection is one
//    guest making a few requests, as cloud-init does. Warmed up, then 3 interleaved rounds, medians.
// 3. Boot storm: 10,000 guests each fetching their full NoCloud set, 500 at a time: the cold
//    case, where ours renders most documents on first request.
// Targets: >= 0.6x nginx's requests/s, p99 <= 2x nginx's, storm with 0 errors in <= 1.7x nginx's time.
// Every phase is bounded in time and count; nginx and the server are stopped by their PIDs.
// On a machine with few cores the load generators would steal the servers' CPU and measure the
// scheduler, so (with taskset available and >= 2 CPUs) each server gets CPU 0 to itself (nginx:
// one worker; ours: its one event loop) and wrk and this process run on the others.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { loadSiteFile } from "../metadata-server/inventory/load.ts";
import { NOCLOUD_DOCUMENTS, SiteSnapshot } from "../metadata-server/site-store.ts";
import { loadOrCreateSecret } from "../metadata-server/state/secret.ts";
import { median } from "./stats.ts";

const VMS = 10_000;
const WRK_CONNECTIONS = 256;
const WRK_SECONDS = 10;
const WRK_ROUNDS = 3;
const GEN_CONNECTIONS = 256;
const GEN_SECONDS = 10;
const GEN_ROUNDS = 3;
const REQUESTS_PER_GUEST_CONNECTION = 4;
const STORM_CONCURRENCY = 500;
const STORM_DEADLINE_MS = 120_000;
const TARGET_THROUGHPUT = 0.6;
const TARGET_P99 = 2;
const TARGET_STORM = 1.7;

const guestAddress = (i: number) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;

function inventory(): string {
  const lines = [
    "version: 1",
    "macPools:",
    '  - { name: default, start: "02:10:00:00:00:00", end: "02:10:00:00:ff:ff" }',
    "networks:",
    "  - name: guests",
    "    type: bridge",
    "    mtu: 1500",
    "    ipv4: { subnet: 127.0.0.0/8, gateway: 127.0.0.1, dhcp: false }",
    "    dns: { servers: [127.0.0.53], search: [bench.test] }",
    "vms:",
  ];
  for (let i = 0; i < VMS; i++) {
    const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
    lines.push(
      `  - id: ${id}`,
      `    name: guest-${i}`,
      `    sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKey${String(i).padStart(6, "0")}AAAAAAAAAAAAAAAAAAAAAAAA bench@test"]`,
      `    userData: { raw: "#cloud-config\\npackages: [qemu-guest-agent]\\nruncmd:\\n  - [systemctl, enable, --now, qemu-guest-agent]\\nwrite_files:\\n  - path: /etc/guest-id\\n    content: guest-${i}\\n" }`,
      `    nics: [{ network: guests, ipv4: { mode: static, address: ${guestAddress(i)} } }]`,
    );
  }
  return lines.join("\n") + "\n";
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitForPort(port: number, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host: "127.0.0.1", port });
      s.once("connect", () => { s.destroy(); r(true); });
      s.once("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once("exit", r));
  try {
    process.kill(child.pid, "SIGTERM");
  } catch {
    return; // already gone
  }
  await exited;
}

// ------------------------------------------------------------------------------------------ wrk

interface WrkResult { rps: number; p99ms: number; errors: number }

function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "ms" ? v : m[2] === "s" ? v * 1000 : v * 60_000;
}

const PIN = availableParallelism() >= 2 && !spawnSync("taskset", ["-V"], { stdio: "ignore" }).error;
const LOAD_CPUS = `1-${availableParallelism() - 1}`;
/** Command and arguments, pinned to `cpus` when pinning is on. */
const pinned = (cpus: string, cmd: string, args: string[]): [string, string[]] => (PIN ? ["taskset", ["-c", cpus, cmd, ...args]] : [cmd, args]);

function wrk(url: string, pathsFile: string, luaFile: string): WrkResult {
  const [cmd, args] = pinned(LOAD_CPUS, "wrk", ["-t2", `-c${WRK_CONNECTIONS}`, `-d${WRK_SECONDS}s`, "--latency", "--timeout", "5s", "-s", luaFile, url]);
  const r = spawnSync(cmd, args, {
    encoding: "utf8", timeout: (WRK_SECONDS + 30) * 1000, env: { ...process.env, PATHS_FILE: pathsFile },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const p99ms = parseDuration(/^\s+99%\s+(\S+)/m.exec(r.stdout)?.[1] ?? "");
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p99ms, errors };
}

/** Medians of each field over several runs (errors are summed: every error counts). */
function medianRun(runs: WrkResult[]): WrkResult {
  return { rps: median(runs.map((r) => r.rps)), p99ms: median(runs.map((r) => r.p99ms)), errors: runs.reduce((a, r) => a + r.errors, 0) };
}

const WRK_LUA = `
local paths = {}
for line in io.lines(os.getenv("PATHS_FILE")) do paths[#paths + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
`;

// ------------------------------------------------------------------------ our load generator

/** One keep-alive connection: sends requests one at a time and reads Content-Length bodies. */
function guestConnection(port: number, localAddress: string | undefined, paths: string[], onDone: (latencies: number[], errors: number) => void): void {
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  let buf: Buffer = Buffer.alloc(0);
  let sentAt = 0n;
  let finished = false;
  const socket = connect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}), noDelay: true });
  const finish = () => {
    if (finished) return;
    finished = true;
    socket.destroy();
    onDone(latencies, errors + (paths.length - i));
  };
  const send = () => {
    sentAt = process.hrtime.bigint();
    socket.write(`GET ${paths[i]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  };
  socket.once("connect", send);
  socket.on("data", (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const headEnd = buf.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const head = buf.subarray(0, headEnd).toString("latin1");
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? -1);
      if (length < 0) { errors++; finish(); return; }
      if (buf.length < headEnd + 4 + length) return;
      if (!head.startsWith("HTTP/1.1 200")) errors++;
      latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
      buf = buf.subarray(headEnd + 4 + length);
      i++;
      if (i === paths.length) { finish(); return; }
      send();
    }
  });
  socket.on("error", () => { errors++; finish(); });
  socket.on("close", finish);
}

interface GenResult { rps: number; p99ms: number; errors: number; requests: number }

/** Keeps `connections` guest connections busy for `seconds`; each connection is one guest. */
async function generate(port: number, connections: number, seconds: number, guest: () => { from?: string; paths: string[] }): Promise<GenResult> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < deadline) {
      const g = guest();
      await new Promise<void>((resolve) => guestConnection(port, g.from, g.paths, (l, e) => {
        for (const x of l) latencies.push(x);
        errors += e;
        resolve();
      }));
    }
  }));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { rps: latencies.length / elapsed, p99ms: percentile(latencies, 0.99), errors, requests: latencies.length };
}

/** `guests` guests, `concurrency` at a time, each fetching its paths on one connection. */
async function storm(port: number, guests: number, concurrency: number, guest: (i: number) => { from?: string; paths: string[] }): Promise<{ ms: number; errors: number; requests: number }> {
  let next = 0;
  let errors = 0;
  let requests = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < guests && Date.now() - started < STORM_DEADLINE_MS) {
      const g = guest(next++);
      await new Promise<void>((resolve) => guestConnection(port, g.from, g.paths, (l, e) => {
        requests += l.length;
        errors += e;
        resolve();
      }));
    }
  }));
  if (next < guests) errors += guests - next;
  return { ms: Date.now() - started, errors, requests };
}

function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

// ---------------------------------------------------------------------------------------- main

async function main() {
  for (const tool of ["nginx", "wrk"]) {
    if (spawnSync(tool, ["-v"], { stdio: "ignore" }).error) throw new Error(`${tool} is not installed (Debian packages: nginx-light, wrk)`);
  }
  const work = mkdtempSync(join(tmpdir(), "guestlink-http-bench-"));
  // nginx workers run as an unprivileged user when started as root: the tree must be readable.
  chmodSync(work, 0o755);
  const children: ChildProcess[] = [];
  try {
    const invPath = join(work, "inventory.yaml");
    writeFileSync(invPath, inventory());
    const stateDir = join(work, "state");
    const secret = await loadOrCreateSecret(stateDir);
    const loaded = await loadSiteFile(invPath);
    if (!loaded.site) throw new Error(`bench inventory invalid: ${JSON.stringify(loaded.issues.slice(0, 3))}`);
    const snapshot = new SiteSnapshot(loaded.site, secret.bytes);
    const vms = loaded.site.vms;

    // The same bytes, as static files: /nocloud/<token>/<doc> and /openstack-by-token/<token>/network_data.json.
    const root = join(work, "www");
    const tokens = vms.map((vm) => snapshot.seedToken(vm));
    vms.forEach((vm, i) => {
      const dir = join(root, "nocloud", tokens[i]!);
      mkdirSync(dir, { recursive: true });
      for (const doc of NOCLOUD_DOCUMENTS) writeFileSync(join(dir, doc), new Uint8Array(snapshot.nocloud(vm, doc)));
      const os = join(root, "openstack-by-token", tokens[i]!);
      mkdirSync(os, { recursive: true });
      writeFileSync(join(os, "network_data.json"), new Uint8Array(snapshot.openstack(vm, "network_data.json")));
    });
    spawnSync("chmod", ["-R", "a+rX", root]);
    const metaPaths = join(work, "meta-data.paths");
    writeFileSync(metaPaths, tokens.map((t) => `/nocloud/${t}/meta-data`).join("\n") + "\n");
    const lua = join(work, "random.lua");
    writeFileSync(lua, WRK_LUA);

    const nginxPort = await freePort();
    const prefix = join(work, "nginx");
    mkdirSync(join(prefix, "logs"), { recursive: true });
    const conf = join(prefix, "nginx.conf");
    writeFileSync(conf, `daemon off;
worker_processes ${PIN ? 1 : "auto"};
worker_rlimit_nofile 65536;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 100000;
  keepalive_timeout 30s;
  default_type text/plain;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${nginxPort} backlog=4096;
    root ${root};
  }
}
`);
    if (PIN) spawnSync("taskset", ["-p", "-c", LOAD_CPUS, String(process.pid)], { stdio: "ignore" });
    const nginx = spawn(...pinned("0", "nginx", ["-c", conf, "-p", prefix]), { stdio: "inherit" });
    children.push(nginx);
    await waitForPort(nginxPort);

    const oursPort = await freePort();
    const nodeFlags = (process.env.HTTP_BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
    const ours = spawn(...pinned("0", process.execPath, [...nodeFlags, "bin/guestlink", "serve", "--inventory", invPath, "--listen", `127.0.0.1:${oursPort}`, "--state-dir", stateDir, "--no-watch", "--log-level", "warn"]), { stdio: ["ignore", "inherit", "inherit"] });
    children.push(ours);
    await waitForPort(oursPort);

    console.log(`${VMS} VMs; nginx on :${nginxPort}, guestlink serve on :${oursPort}; ${PIN ? `servers pinned to CPU 0 (nginx: 1 worker), load on CPUs ${LOAD_CPUS}` : "no CPU pinning (nginx: a worker per CPU)"}`);
    const ratios: Array<[string, number, number, "min" | "max"]> = [];

    const phases = (process.env.HTTP_BENCH_PHASES ?? "wrk,generator,storm").split(",");
    // Warm-up, not measured: nginx's files are in the page cache already (just written); ours
    // renders each document on first request and its JIT has not run yet.
    if (phases.includes("wrk")) {
      const [cmd, args] = pinned(LOAD_CPUS, "wrk", ["-t2", `-c${WRK_CONNECTIONS}`, "-d3s", "-s", lua, `http://127.0.0.1:${oursPort}`]);
      spawnSync(cmd, args, { stdio: "ignore", timeout: 30_000, env: { ...process.env, PATHS_FILE: metaPaths } });
    }

    // 1. NoCloud meta-data through wrk: WRK_ROUNDS interleaved runs per server, medians reported
    // (one run's p99 swings by an order of magnitude on a shared 2-CPU machine; see docs/http.md).
    const noWrk = { rps: NaN, p99ms: NaN, errors: 0 };
    const nginxRuns: WrkResult[] = [];
    const oursRuns: WrkResult[] = [];
    for (let round = 0; phases.includes("wrk") && round < WRK_ROUNDS; round++) {
      nginxRuns.push(wrk(`http://127.0.0.1:${nginxPort}`, metaPaths, lua));
      oursRuns.push(wrk(`http://127.0.0.1:${oursPort}`, metaPaths, lua));
    }
    if (oursRuns.length) console.log(`  p99 per round: nginx ${nginxRuns.map((r) => r.p99ms.toFixed(1)).join(", ")} ms; ours ${oursRuns.map((r) => r.p99ms.toFixed(1)).join(", ")} ms`);
    const wrkNginx = nginxRuns.length ? medianRun(nginxRuns) : noWrk;
    const wrkOurs = oursRuns.length ? medianRun(oursRuns) : noWrk;
    console.log(`nocloud meta-data (wrk, ${WRK_CONNECTIONS} conns, ${WRK_SECONDS}s): nginx ${wrkNginx.rps.toFixed(0)} req/s p99 ${wrkNginx.p99ms.toFixed(2)} ms errors ${wrkNginx.errors}; ours ${wrkOurs.rps.toFixed(0)} req/s p99 ${wrkOurs.p99ms.toFixed(2)} ms errors ${wrkOurs.errors}`);
    ratios.push(["nocloud meta-data throughput", wrkOurs.rps / wrkNginx.rps, TARGET_THROUGHPUT, "min"]);
    ratios.push(["nocloud meta-data p99", wrkOurs.p99ms / wrkNginx.p99ms, TARGET_P99, "max"]);
    const wrkErrors = wrkOurs.errors;
    if (phases.includes("wrk")) {
      // The floor of the platform under the same load: bare node:http answering a constant body
      // of the same size, so a miss can be told apart from cost added by our handler.
      const floorPort = await freePort();
      const size = snapshot.nocloud(vms[0]!, "meta-data").length;
      const floor = spawn(...pinned("0", process.execPath, ["-e",
        `require("http").createServer((q, s) => { s.writeHead(200, { "content-length": ${size} }); s.end("x".repeat(${size})); }).listen(${floorPort}, "127.0.0.1")`]), { stdio: "ignore" });
      children.push(floor);
      await waitForPort(floorPort);
      // Warmed up like ours: a cold Node answers its first second slowly, which once passed for a floor.
      spawnSync(...pinned(LOAD_CPUS, "wrk", ["-t2", `-c${WRK_CONNECTIONS}`, "-d3s", `http://127.0.0.1:${floorPort}/`]), { stdio: "ignore", timeout: 30_000 });
      const wrkFloor = medianRun(Array.from({ length: WRK_ROUNDS }, () => wrk(`http://127.0.0.1:${floorPort}`, metaPaths, lua)));
      await stop(floor);
      console.log(`  reference, bare node:http constant ${size}-byte body under the same wrk load: ${wrkFloor.rps.toFixed(0)} req/s p99 ${wrkFloor.p99ms.toFixed(2)} ms (p99 ${(wrkFloor.p99ms / wrkNginx.p99ms).toFixed(2)}x nginx)`);
    }

    // 2. OpenStack network_data.json, identified by source address (ours) / by path (nginx).
    const pick = () => Math.floor(Math.random() * VMS);
    const skipped = { rps: NaN, p99ms: NaN, errors: 0, requests: 0 };
    const nginxGuest = () => {
      const i = pick();
      return { from: guestAddress(i), paths: Array(REQUESTS_PER_GUEST_CONNECTION).fill(`/openstack-by-token/${tokens[i]}/network_data.json`) };
    };
    const oursGuest = () => ({ from: guestAddress(pick()), paths: Array(REQUESTS_PER_GUEST_CONNECTION).fill("/openstack/latest/network_data.json") });
    // Warm-up, not measured, as for wrk: ours renders network_data.json on first request (the
    // boot storm below is the measure of first fetches). Then GEN_ROUNDS interleaved rounds, medians.
    const genNginxRuns: GenResult[] = [];
    const genOursRuns: GenResult[] = [];
    if (phases.includes("generator")) {
      await generate(nginxPort, GEN_CONNECTIONS, 3, nginxGuest);
      await generate(oursPort, GEN_CONNECTIONS, 3, oursGuest);
      for (let round = 0; round < GEN_ROUNDS; round++) {
        genNginxRuns.push(await generate(nginxPort, GEN_CONNECTIONS, GEN_SECONDS, nginxGuest));
        genOursRuns.push(await generate(oursPort, GEN_CONNECTIONS, GEN_SECONDS, oursGuest));
      }
      console.log(`  p99 per round: nginx ${genNginxRuns.map((r) => r.p99ms.toFixed(1)).join(", ")} ms; ours ${genOursRuns.map((r) => r.p99ms.toFixed(1)).join(", ")} ms`);
    }
    const genNginx = genNginxRuns.length ? { ...medianRun(genNginxRuns), requests: genNginxRuns.reduce((a, r) => a + r.requests, 0) } : skipped;
    const genOurs = genOursRuns.length ? { ...medianRun(genOursRuns), requests: genOursRuns.reduce((a, r) => a + r.requests, 0) } : skipped;
    console.log(`openstack network_data.json (generator, ${GEN_CONNECTIONS} guest conns x ${REQUESTS_PER_GUEST_CONNECTION} req, ${GEN_SECONDS}s, median of ${GEN_ROUNDS}): nginx ${genNginx.rps.toFixed(0)} req/s p99 ${genNginx.p99ms.toFixed(2)} ms errors ${genNginx.errors}; ours ${genOurs.rps.toFixed(0)} req/s p99 ${genOurs.p99ms.toFixed(2)} ms errors ${genOurs.errors}`);
    ratios.push(["network_data.json throughput", genOurs.rps / genNginx.rps, TARGET_THROUGHPUT, "min"]);
    ratios.push(["network_data.json p99", genOurs.p99ms / genNginx.p99ms, TARGET_P99, "max"]);

    // 3. Boot storm: every guest fetches its whole NoCloud set once, on one connection from its
    // own address (as each guest would). Both servers have served meta-data above already; the
    // other three documents are fetched for the first time here.
    const stormGuest = (i: number) => ({ from: guestAddress(i), paths: NOCLOUD_DOCUMENTS.map((d) => `/nocloud/${tokens[i]}/${d}`) });
    const stormNginx = !phases.includes("storm") ? { ms: NaN, errors: 0, requests: 0 } : await storm(nginxPort, VMS, STORM_CONCURRENCY, stormGuest);
    const stormOurs = !phases.includes("storm") ? { ms: NaN, errors: 0, requests: 0 } : await storm(oursPort, VMS, STORM_CONCURRENCY, stormGuest);
    console.log(`boot storm (${VMS} guests x ${NOCLOUD_DOCUMENTS.length} docs, ${STORM_CONCURRENCY} at a time): nginx ${stormNginx.ms} ms (${stormNginx.errors} errors); ours ${stormOurs.ms} ms (${stormOurs.errors} errors, ${stormOurs.requests} requests)`);
    ratios.push(["boot storm time", stormOurs.ms / stormNginx.ms, TARGET_STORM, "max"]);

    if (stormNginx.errors) console.log(readFileSync(join(prefix, "logs", "error.log"), "utf8").split("\n").slice(-5).join("\n"));
    let failed = false;
    for (const [name, ratio, target, kind] of ratios) {
      const ok = kind === "min" ? ratio >= target : ratio <= target;
      failed ||= !ok;
      console.log(`  ${name}: ${ratio.toFixed(2)}x nginx (target ${kind === "min" ? ">=" : "<="} ${target}x) ${ok ? "ok" : "MISSED"}`);
    }
    const errors = wrkErrors + genOurs.errors + stormOurs.errors;
    console.log(`  errors on ours: ${errors} (target 0) ${errors === 0 ? "ok" : "MISSED"}`);
    if (failed || errors) process.exitCode = 1;
  } finally {
    for (const c of children.reverse()) await stop(c);
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
