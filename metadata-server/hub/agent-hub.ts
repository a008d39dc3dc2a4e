// The agents' WebSocket endpoint (/v1/agent). Each connection is authenticated at upgrade time
// with the VM's agent credential and bound to that VM for its whole life: it can only ever report
// for that VM. Messages are size- and rate-limited; a bad one is answered with an error and the
// connection stays up. The server can send any QGA command back down the same connection.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import {
  AGENT_VM_HEADER, AGENT_WS_PATH, AgentToServer, type ReportedInterface, type ServerToAgent,
} from "../../agent/protocol/index.ts";
import type { ObservedGuest } from "../observe/types.ts";
import { agentCredential, constantTimeEqual } from "../state/tokens.ts";
import { StoreLimitError, type GuestRecord } from "./store.ts";

export interface AgentHubOptions {
  secret: Uint8Array;
  /** Whether the VM is in the current inventory; a credential for a VM that left is refused. */
  isKnownVm: (vmId: string) => boolean;
  /**
   * `rawBytes` is the size of the frame the report came in. The agent's ack waits for the
   * returned promise (the store's word that the report is durable); a rejection is answered with
   * UNAVAILABLE instead. A StoreLimitError thrown at once refuses the report (LIMIT_EXCEEDED).
   */
  onReport: (record: GuestRecord, rawBytes: number) => Promise<void> | void;
  /** A report went over a limit and was refused; the last good state stays. */
  onLimit?: (vmId: string, message: string) => void;
  onEvent?: (event: { vmId: string; event: "connected" | "disconnected" | "rejected"; reason?: string }) => void;
  maxPayloadBytes?: number;
  /** Sustained messages per second per connection, and the burst allowed above it. */
  ratePerSecond?: number;
  rateBurst?: number;
  heartbeatSeconds?: number;
  maxConnections?: number;
  qgaTimeoutMs?: number;
  /** Interfaces one VM's session may hold (its reports accumulate them); a report that would pass it is refused. */
  maxInterfacesPerVm?: number;
  /** Addresses over all of one VM's interfaces. */
  maxAddressesPerVm?: number;
  now?: () => number;
}

export const AGENT_HUB_DEFAULTS = {
  maxPayloadBytes: 1 << 20, ratePerSecond: 10, rateBurst: 40, heartbeatSeconds: 30, maxConnections: 20_000, qgaTimeoutMs: 5_000,
  maxInterfacesPerVm: 256, maxAddressesPerVm: 2048,
} as const;

export interface ReportLimits { maxInterfacesPerVm: number; maxAddressesPerVm: number }

/**
 * A VM's interfaces after one report (a full one replaces them, a partial one upserts and
 * removes), or why the report is refused. Pure: the session's map is only replaced when the
 * whole report fits, so a refused report changes nothing.
 */
export function applyReport(
  known: ReadonlyMap<string, ReportedInterface>,
  report: { full: boolean; interfaces: readonly ReportedInterface[]; removed?: readonly string[] },
  limits: ReportLimits,
): { interfaces: Map<string, ReportedInterface> } | { refused: string } {
  const next = report.full ? new Map<string, ReportedInterface>() : new Map(known);
  for (const name of report.removed ?? []) next.delete(name);
  for (const i of report.interfaces) next.set(i.name, i);
  const refused = overReportLimits(next.values(), next.size, limits, "this report would make");
  return refused ? { refused } : { interfaces: next };
}

/**
 * Why a VM's interfaces are over its limits, or undefined: one rule for what an agent reports and
 * what a host-side poll observes. `saying` opens the message ("this report would make", "the poll found").
 */
export function overReportLimits(interfaces: Iterable<{ addresses: readonly string[] }>, count: number, limits: ReportLimits, saying: string): string | undefined {
  if (count > limits.maxInterfacesPerVm) return `${saying} ${count} interfaces; a VM may have ${limits.maxInterfacesPerVm} (maxInterfacesPerVm)`;
  let addresses = 0;
  for (const i of interfaces) addresses += i.addresses.length;
  if (addresses > limits.maxAddressesPerVm) return `${saying} ${addresses} addresses; a VM may have ${limits.maxAddressesPerVm} (maxAddressesPerVm)`;
  return undefined;
}

interface Session {
  vmId: string;
  ws: WebSocket;
  interfaces: Map<string, ReportedInterface>;
  tokens: number;
  lastRefill: number;
  lastSeen: number;
  helloDone: boolean;
  pending: Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export class AgentHub {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<string, Session>();
  private readonly opts: Required<Omit<AgentHubOptions, "onEvent" | "onLimit">> & Pick<AgentHubOptions, "onEvent" | "onLimit">;
  private readonly sweeper: NodeJS.Timeout;
  private nextRequestId = 1;

  constructor(options: AgentHubOptions) {
    this.opts = { ...AGENT_HUB_DEFAULTS, now: Date.now, ...options } as typeof this.opts;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.opts.maxPayloadBytes, perMessageDeflate: false });
    // Agents that stop talking (a frozen guest, a half-open TCP connection) are dropped after three
    // missed heartbeats, so the session table only holds live agents.
    this.sweeper = setInterval(() => this.sweep(), this.opts.heartbeatSeconds * 1000);
    this.sweeper.unref();
  }

  get connectedCount(): number {
    return this.sessions.size;
  }

  isConnected(vmId: string): boolean {
    return this.sessions.has(vmId.toLowerCase());
  }

  /** Takes an HTTP upgrade for /v1/agent; returns false for any other path so others can handle it. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? "").split("?")[0];
    if (path !== AGENT_WS_PATH) return false;
    const vmHeader = req.headers[AGENT_VM_HEADER];
    const vmId = typeof vmHeader === "string" && UUID.test(vmHeader) ? vmHeader.toLowerCase() : undefined;
    const auth = req.headers.authorization ?? "";
    const presented = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
    const refuse = (status: number, reason: string) => {
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : "Service Unavailable"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      this.opts.onEvent?.({ vmId: vmId ?? "?", event: "rejected", reason });
    };
    if (!vmId || !presented || !this.opts.isKnownVm(vmId) || !constantTimeEqual(presented, agentCredential(this.opts.secret, vmId))) {
      // One answer for every failure: whether the VM exists is not for an unauthenticated caller to learn.
      refuse(401, "bad credential or unknown VM");
      return true;
    }
    if (this.sessions.size >= this.opts.maxConnections && !this.sessions.has(vmId)) {
      refuse(503, "connection limit");
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(vmId, ws));
    return true;
  }

  /** Sends a QGA command to a connected agent and resolves with its answer ({return} or {error}). */
  request(vmId: string, request: { execute: string; arguments?: Record<string, unknown> }, timeoutMs = this.opts.qgaTimeoutMs): Promise<unknown> {
    const s = this.sessions.get(vmId.toLowerCase());
    if (!s) return Promise.reject(new Error(`the agent of VM ${vmId} is not connected`));
    const id = String(this.nextRequestId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        s.pending.delete(id);
        reject(new Error(`the agent of VM ${vmId} did not answer ${request.execute} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.pending.set(id, { resolve, reject, timer });
      this.send(s, { type: "qga-request", id, request });
    });
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of this.sessions.values()) s.ws.close(1001, "server shutting down");
    this.sessions.clear();
    this.wss.close();
  }

  private attach(vmId: string, ws: WebSocket): void {
    const old = this.sessions.get(vmId);
    if (old) this.detach(old, 4000, "replaced by a newer connection of the same VM");
    const now = this.opts.now();
    const s: Session = { vmId, ws, interfaces: new Map(), tokens: this.opts.rateBurst, lastRefill: now, lastSeen: now, helloDone: false, pending: new Map() };
    this.sessions.set(vmId, s);
    this.opts.onEvent?.({ vmId, event: "connected" });
    ws.on("message", (data, isBinary) => this.onMessage(s, data as Buffer, isBinary));
    ws.on("close", () => {
      if (this.sessions.get(vmId) === s) this.detach(s);
    });
    ws.on("error", () => ws.terminate());
    this.send(s, { type: "welcome", vmId, heartbeatSeconds: this.opts.heartbeatSeconds });
  }

  private detach(s: Session, code?: number, reason?: string): void {
    for (const p of s.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`the agent of VM ${s.vmId} disconnected`));
    }
    s.pending.clear();
    if (this.sessions.get(s.vmId) === s) this.sessions.delete(s.vmId);
    if (code !== undefined) s.ws.close(code, reason);
    this.opts.onEvent?.({ vmId: s.vmId, event: "disconnected", ...(reason ? { reason } : {}) });
  }

  private send(s: Session, msg: ServerToAgent): void {
    if (s.ws.readyState === s.ws.OPEN) s.ws.send(JSON.stringify(msg));
  }

  private error(s: Session, code: Extract<ServerToAgent, { type: "error" }>["code"], message: string): void {
    this.send(s, { type: "error", code, message });
  }

  /** A report over a limit: the agent hears which, the VM is flagged, the last good state stays. */
  private refuse(s: Session, message: string): void {
    this.error(s, "LIMIT_EXCEEDED", message);
    this.opts.onLimit?.(s.vmId, message);
  }

  private onMessage(s: Session, data: Buffer, isBinary: boolean): void {
    const now = this.opts.now();
    s.lastSeen = now;
    s.tokens = Math.min(this.opts.rateBurst, s.tokens + ((now - s.lastRefill) / 1000) * this.opts.ratePerSecond);
    s.lastRefill = now;
    if (s.tokens < 1) {
      // A flood earns errors, and a sustained one (a whole burst's worth past the limit) the door.
      if (s.tokens < -this.opts.rateBurst) { this.detach(s, 1008, "message rate limit exceeded"); return; }
      s.tokens -= 1;
      this.error(s, "RATE_LIMITED", `more than ${this.opts.ratePerSecond} messages/s; this one was dropped`);
      return;
    }
    s.tokens -= 1;
    if (isBinary) return this.error(s, "BAD_MESSAGE", "messages are JSON text frames");
    let json: unknown;
    try {
      json = JSON.parse(data.toString("utf8"));
    } catch {
      return this.error(s, "BAD_MESSAGE", "not JSON");
    }
    const parsed = AgentToServer.safeParse(json);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      return this.error(s, "BAD_MESSAGE", `${i.path.join(".") || "message"}: ${i.message}`);
    }
    const msg = parsed.data;
    switch (msg.type) {
      case "hello":
        if (msg.vmId.toLowerCase() !== s.vmId) return this.error(s, "WRONG_VM", `this connection reports for VM ${s.vmId}, not ${msg.vmId}`);
        s.helloDone = true;
        return;
      case "heartbeat":
        return;
      case "qga-response": {
        const p = s.pending.get(msg.id);
        if (!p) return;
        clearTimeout(p.timer);
        s.pending.delete(msg.id);
        p.resolve(msg.response);
        return;
      }
      case "report": {
        if (!s.helloDone) return this.error(s, "NOT_HELLO", "send hello before reports");
        const applied = applyReport(s.interfaces, msg, this.opts);
        if ("refused" in applied) return this.refuse(s, applied.refused);
        const record = { vmId: s.vmId, observed: observedOf(s.vmId, applied.interfaces, msg.at), raw: { report: msg }, receivedAt: new Date(now).toISOString() };
        let durable;
        try {
          durable = this.opts.onReport(record, data.length);
        } catch (err) {
          if (err instanceof StoreLimitError) return this.refuse(s, err.message);
          throw err;
        }
        s.interfaces = applied.interfaces; // only once the store took the report
        if (!durable) return this.send(s, { type: "ack", seq: msg.seq });
        // Acks leave in the order the store commits, which is the order reports arrived.
        durable.then(() => this.send(s, { type: "ack", seq: msg.seq }), (err: Error) => this.error(s, "UNAVAILABLE", `the report was not stored: ${err.message}`));
        return;
      }
    }
  }

  private sweep(): void {
    const limit = this.opts.now() - 3 * this.opts.heartbeatSeconds * 1000;
    for (const s of [...this.sessions.values()]) if (s.lastSeen < limit) { s.ws.terminate(); this.detach(s); }
  }
}

function observedOf(vmId: string, interfaces: ReadonlyMap<string, ReportedInterface>, at: string): ObservedGuest {
  return {
    vmId, source: "agent", at,
    interfaces: [...interfaces.values()].map((i) => ({
      name: i.name, mac: i.mac, mtu: i.mtu, operstate: i.operstate, addresses: [...i.addresses],
      ...(i.carrier !== undefined ? { carrier: i.carrier } : {}), ...(i.ipv6Mtu !== undefined ? { ipv6Mtu: i.ipv6Mtu } : {}),
    })),
  };
}
