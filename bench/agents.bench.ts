// 10,000 simulated agents connected over loopback to one server process.
// Targets (issue "guests report back"): server RSS at most 1 GiB with 10,000 agents connected;
// at least 20,000 reports/s processed, with their latency until the API shows them; server CPU
// when idle at 10,000 connections recorded.
// The server runs in its own process (this file started with "server MODE"), so its RSS and CPU
// are its own. Bounded: a fixed number of agents and reports, and a time limit on every phase.
// It runs twice in one run, on the same guest store: acks sent as each report is received (what
// an ack meant before reports were made durable first) and acks sent once the store's group
// commit made the report durable (what an ack means now); the ratio durable/received is printed.
import { spawn } from "node:child_process";
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { AgentHub } from "../metadata-server/hub/agent-hub.ts";
import { FileGuestStore } from "../metadata-server/hub/store.ts";
import { agentCredential } from "../metadata-server/state/tokens.ts";

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const REPORTS_PER_AGENT = 10;
const secret = new Uint8Array(32).fill(3);
const vmId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

type AckMode = "received" | "durable";

async function serverMain(mode: AckMode) {
  const dir = mkdtempSync(join(tmpdir(), "guestlink-bench-agents-"));
  const store = await FileGuestStore.open(join(dir, "guests.json"));
  let reports = 0;
  const hub = new AgentHub({
    secret, isKnownVm: () => true, maxConnections: AGENTS + 100, ratePerSecond: 50, rateBurst: 100,
    onReport: (r, bytes) => {
      reports++;
      const durable = store.put(r, bytes);
      if (mode === "durable") return durable;
      durable.catch(() => undefined);
    },
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/stats") {
      const cpu = process.cpuUsage();
      res.end(JSON.stringify({ rss: process.memoryUsage().rss, reports, connected: hub.connectedCount, cpuMicros: cpu.user + cpu.system }));
    } else if (url.pathname === "/guest") {
      const rec = store.get(url.searchParams.get("vm") ?? "");
      res.end(JSON.stringify(rec ? { at: rec.observed.at } : {}));
    } else res.writeHead(404).end();
  });
  server.maxConnections = AGENTS + 1000;
  server.on("upgrade", (req, socket, head) => { if (!hub.handleUpgrade(req, socket, head)) socket.destroy(); });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
  process.on("SIGTERM", async () => { hub.close(); await store.close(); rmSync(dir, { recursive: true, force: true }); process.exit(0); });
}

function fetchJson(port: number, path: string): Promise<Record<string, number | string>> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve(JSON.parse(body)));
    }).on("error", reject);
  });
}

const iface = (i: number, n: number) => ({ name: "eth0", mac: `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`, operstate: "up", mtu: 1500, addresses: [`10.0.${(i >> 8) & 255}.${i & 255}/16`, `10.1.${n & 255}.1/16`] });

interface Run { rate: number; ackRate: number; apiP50: number; apiP99: number; ackP50: number; ackP99: number }

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

async function runOnce(mode: AckMode, measureIdle: boolean): Promise<Run> {
  console.log(`--- acks sent when the report is ${mode}`);
  const child = spawn(process.execPath, [process.argv[1]!, "server", mode], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) => child.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
  const sockets: WebSocket[] = [];
  const acks = new Int32Array(AGENTS);
  let ackCount = 0;
  /** Per agent, the resolver waiting for its next ack (the latency phase sends one report at a time). */
  const ackWaiters = new Map<number, () => void>();
  try {
    // Phase 1: connect everyone, 500 handshakes in flight at a time.
    const t0 = performance.now();
    for (let start = 0; start < AGENTS; start += 500) {
      await Promise.all(Array.from({ length: Math.min(500, AGENTS - start) }, (_, k) => new Promise<void>((resolve, reject) => {
        const i = start + k;
        const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/agent`, { headers: { authorization: `Bearer ${agentCredential(secret, vmId(i))}`, "x-guestlink-vm": vmId(i) }, perMessageDeflate: false,
          // The simulated agents skip per-frame random masks (ws's documented benchmark option), so
          // the client process spends its CPU sending rather than on crypto the server never sees.
          generateMask: () => {} });
        ws.on("open", () => {
          ws.send(JSON.stringify({ type: "hello", vmId: vmId(i), agent: { name: "bench", version: "1" } }));
          ws.send(JSON.stringify({ type: "report", seq: 0, full: true, at: new Date().toISOString(), interfaces: [iface(i, 0)] }));
          resolve();
        });
        ws.on("message", (d) => {
          if (!String(d).includes('"ack"')) return;
          acks[i]!++;
          ackCount++;
          const w = ackWaiters.get(i);
          if (w) { ackWaiters.delete(i); w(); }
        });
        ws.on("error", reject);
        sockets[i] = ws;
      })));
    }
    const connectMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2000));
    const connected = await fetchJson(port, "/stats");
    const rss = Number(connected.rss);
    console.log(`connected ${connected.connected} agents in ${(connectMs / 1000).toFixed(1)} s; server RSS ${(rss / 1048576).toFixed(0)} MiB (target <= 1024 MiB): ${rss <= 1 << 30 ? "PASS" : "FAIL"}`);

    // Phase 2: idle CPU with everyone connected.
    if (measureIdle) {
      const idle0 = await fetchJson(port, "/stats");
      await new Promise((r) => setTimeout(r, 10_000));
      const idle1 = await fetchJson(port, "/stats");
      const idlePct = (Number(idle1.cpuMicros) - Number(idle0.cpuMicros)) / 10_000_000 * 100;
      console.log(`server CPU idle at ${AGENTS} connections: ${idlePct.toFixed(2)} % of one core over 10 s`);
    }

    // Phase 3: throughput. Every agent sends REPORTS_PER_AGENT delta reports back to back.
    const statsBefore = await fetchJson(port, "/stats");
    const before = Number(statsBefore.reports);
    const acksBefore = ackCount;
    const total = AGENTS * REPORTS_PER_AGENT;
    // Messages are serialised before the clock starts: the client's own JSON work is not the server's.
    const at = new Date().toISOString();
    const batches = Array.from({ length: REPORTS_PER_AGENT }, (_, k) => Array.from({ length: AGENTS }, (_, i) =>
      JSON.stringify({ type: "report", seq: k + 1, full: false, at, interfaces: [iface(i, k + 1)] })));
    const t1 = performance.now();
    for (const batch of batches) {
      for (let i = 0; i < AGENTS; i++) sockets[i]!.send(batch[i]!);
      await new Promise((r) => setImmediate(r));
    }
    const deadline = Date.now() + 60_000;
    let processed = 0;
    while (Date.now() < deadline) {
      processed = Number((await fetchJson(port, "/stats")).reports) - before;
      if (processed >= total) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - t1) / 1000;
    const rate = processed / seconds;
    while (ackCount - acksBefore < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const ackSeconds = (performance.now() - t1) / 1000;
    const ackRate = (ackCount - acksBefore) / ackSeconds;
    console.log(`acknowledged ${ackCount - acksBefore}/${total} reports in ${ackSeconds.toFixed(2)} s: ${ackRate.toFixed(0)} acks/s`);
    const serverCpu = (Number((await fetchJson(port, "/stats")).cpuMicros) - Number(statsBefore.cpuMicros)) / 1e6;
    console.log(`server CPU during the burst: ${serverCpu.toFixed(2)} s of ${seconds.toFixed(2)} s wall (${(processed / serverCpu).toFixed(0)} reports per server CPU-second)`);
    console.log(`processed ${processed}/${total} reports in ${seconds.toFixed(2)} s: ${rate.toFixed(0)} reports/s (target >= 20000): ${rate >= 20_000 && processed === total ? "PASS" : "FAIL"}`);

    // Phase 4: latency from a report leaving the agent to the API showing it, and to its ack
    // (sampled, one report at a time).
    const lat: number[] = [];
    const ackLat: number[] = [];
    for (let s = 0; s < 200; s++) {
      const i = (s * 49) % AGENTS;
      const at = new Date(Date.now() + s).toISOString();
      const acked = new Promise<number>((resolve) => ackWaiters.set(i, () => resolve(performance.now())));
      const t = performance.now();
      sockets[i]!.send(JSON.stringify({ type: "report", seq: 1000 + s, full: false, at, interfaces: [iface(i, 1000 + s)] }));
      while ((await fetchJson(port, `/guest?vm=${vmId(i)}`)).at !== at) { /* poll the API */ }
      lat.push(performance.now() - t);
      ackLat.push((await acked) - t);
    }
    lat.sort((a, b) => a - b);
    ackLat.sort((a, b) => a - b);
    console.log(`report-to-API latency over ${lat.length} samples: p50 ${pct(lat, 0.5).toFixed(2)} ms, p99 ${pct(lat, 0.99).toFixed(2)} ms`);
    console.log(`report-to-ack latency over ${ackLat.length} samples: p50 ${pct(ackLat, 0.5).toFixed(2)} ms, p99 ${pct(ackLat, 0.99).toFixed(2)} ms`);
    console.log(`ratios measured/target: RSS ${(rss / (1 << 30)).toFixed(3)}, reports/s ${(20_000 / Math.max(rate, 1)).toFixed(3)} (target/measured)`);
    return { rate, ackRate, apiP50: pct(lat, 0.5), apiP99: pct(lat, 0.99), ackP50: pct(ackLat, 0.5), ackP99: pct(ackLat, 0.99) };
  } finally {
    for (const ws of sockets) ws?.terminate();
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited; // the next run starts on an idle machine
  }
}

async function main() {
  const received = await runOnce("received", true);
  const durable = await runOnce("durable", false);
  const r = (a: number, b: number) => (a / b).toFixed(3);
  console.log(`durable / received: reports/s ${r(durable.rate, received.rate)}, acks/s ${r(durable.ackRate, received.ackRate)}, `
    + `report-to-API p50 ${r(durable.apiP50, received.apiP50)}, report-to-ack p50 ${r(durable.ackP50, received.ackP50)} (${durable.ackP50.toFixed(2)} ms vs ${received.ackP50.toFixed(2)} ms), p99 ${r(durable.ackP99, received.ackP99)}`);
  console.log(`durable acks: ${durable.ackRate.toFixed(0)} reports/s acknowledged (target >= 20000): ${durable.ackRate >= 20_000 ? "PASS" : "FAIL"}`);
}

if (process.argv[2] === "server") void serverMain(process.argv[3] === "received" ? "received" : "durable");
else void main().catch((err) => { console.error(err); process.exit(1); });
