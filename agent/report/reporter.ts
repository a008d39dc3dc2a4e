// Reports the guest's interfaces to the metadata server over a WebSocket: a full report when a
// connection opens, then only what changed, found by polling the collectors and diffing; a full
// refresh on a schedule; heartbeats. While offline it keeps polling and, on reconnect, sends one
// full report, which coalesces every change that happened in between. Reconnects back off
// exponentially with jitter, so a restarted server is not stampeded by every guest at once.
// The server may also send QGA commands down the channel; they go to the same dispatcher as
// virtio-serial and the answer goes back unchanged.
import cron from "node-cron";
import WebSocket from "ws";
import { AGENT_VM_HEADER } from "../protocol/ws-constants.ts";
import type { ReportedInterface } from "../protocol/ws-messages.ts";

export interface ReporterOptions {
  url: string;
  credential: string;
  vmId: string;
  collect: () => Promise<ReportedInterface[]>;
  /** Runs one QGA request (a JSON object) and returns the agent's answer object. */
  qga: (request: Record<string, unknown>) => Promise<unknown>;
  pollMs?: number;
  /** Cron expression for a full report even without changes (the server may have lost state). */
  fullRefreshCron?: string;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  agentVersion?: string;
}

export const REPORTER_DEFAULTS = { pollMs: 5_000, fullRefreshCron: "*/10 * * * *", backoffMinMs: 1_000, backoffMaxMs: 60_000 } as const;

const same = (a: ReportedInterface, b: ReportedInterface) => JSON.stringify(a) === JSON.stringify(b);

export class Reporter {
  private ws: WebSocket | undefined;
  private sent = new Map<string, ReportedInterface>();
  private current = new Map<string, ReportedInterface>();
  private seq = 0;
  private attempts = 0;
  private refreshTask: { stop: () => void } | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly o: Required<Omit<ReporterOptions, "log" | "agentVersion">> & Pick<ReporterOptions, "log" | "agentVersion">;

  constructor(options: ReporterOptions) {
    this.o = { ...REPORTER_DEFAULTS, random: Math.random, ...options } as typeof this.o;
  }

  start(): void {
    if (!cron.validate(this.o.fullRefreshCron)) throw new Error(`not a cron expression: ${this.o.fullRefreshCron}`);
    this.refreshTask = cron.schedule(this.o.fullRefreshCron, () => this.flush(true));
    this.connect();
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    this.refreshTask?.stop();
    clearTimeout(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    this.ws?.close(1000, "agent stopping");
  }

  /** Collects now and sends what changed (exposed for tests and for netlink-triggered refreshes). */
  async poll(): Promise<void> {
    clearTimeout(this.pollTimer);
    try {
      const list = await this.o.collect();
      this.current = new Map(list.map((i) => [i.name, i]));
      this.flush();
    } catch (err) {
      this.o.log?.("collect-failed", { error: (err as Error).message });
    }
    if (!this.stopped) this.pollTimer = setTimeout(() => void this.poll(), this.o.pollMs);
  }

  private flush(full = false): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return; // offline: changes pile up in `current`
    const now = Date.now();
    if (full) {
      this.send({ type: "report", seq: this.seq++, full: true, at: new Date(now).toISOString(), interfaces: [...this.current.values()] });
      this.sent = new Map(this.current);
      return;
    }
    const changed = [...this.current.values()].filter((i) => { const s = this.sent.get(i.name); return !s || !same(s, i); });
    const removed = [...this.sent.keys()].filter((n) => !this.current.has(n));
    if (!changed.length && !removed.length) return;
    this.send({ type: "report", seq: this.seq++, full: false, at: new Date(now).toISOString(), interfaces: changed, ...(removed.length ? { removed } : {}) });
    this.sent = new Map(this.current);
  }

  private send(msg: unknown): void {
    this.ws?.send(JSON.stringify(msg));
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.o.url, {
      headers: { authorization: `Bearer ${this.o.credential}`, [AGENT_VM_HEADER]: this.o.vmId },
      handshakeTimeout: 10_000,
      maxPayload: 16 << 20,
    });
    this.ws = ws;
    ws.on("open", () => {
      this.attempts = 0;
      this.o.log?.("connected", { url: this.o.url });
      this.send({ type: "hello", vmId: this.o.vmId, agent: { name: "guestlink-agent", version: this.o.agentVersion ?? "0" } });
      this.flush(true);
    });
    ws.on("message", (data) => void this.onMessage(String(data)));
    ws.on("unexpected-response", (_req, res) => {
      this.o.log?.("refused", { status: res.statusCode });
      ws.terminate();
    });
    ws.on("error", (err) => this.o.log?.("connection-error", { error: err.message }));
    ws.on("close", () => {
      clearInterval(this.heartbeat);
      if (this.ws === ws) this.ws = undefined;
      if (this.stopped) return;
      const base = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** this.attempts++);
      const delay = Math.round(base * (0.5 + this.o.random() / 2));
      this.o.log?.("disconnected", { retryInMs: delay });
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  private async onMessage(text: string): Promise<void> {
    let msg: { type?: string; heartbeatSeconds?: number; id?: string; request?: Record<string, unknown>; code?: string; message?: string };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === "welcome" && typeof msg.heartbeatSeconds === "number") {
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.send({ type: "heartbeat", at: new Date().toISOString() }), msg.heartbeatSeconds * 1000);
      this.heartbeat.unref?.();
    } else if (msg.type === "qga-request" && typeof msg.id === "string" && msg.request) {
      const response = await this.o.qga(msg.request);
      this.send({ type: "qga-response", id: msg.id, response });
    } else if (msg.type === "error") {
      this.o.log?.("server-error", { code: msg.code, message: msg.message });
    }
  }
}
