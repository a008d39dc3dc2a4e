// Live updates for browsers: /v1/events is a read-only WebSocket on which the server pushes the
// console view of a VM whenever its report or verdict changes. Browsers send nothing that is acted
// on; slow ones are dropped rather than buffered without bound, and so are ones that stop
// answering pings. Who may connect at all is the operator check's to say (http/operator.ts, run
// by the caller through `admit`); this hub adds the limits.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { canonicalAddress } from "../http/address.ts";
import type { ConsoleVm } from "./console-view.ts";

export const EVENTS_PATH = "/v1/events";

export interface EventLimits {
  /** Event clients at once, over all addresses; beyond it an upgrade gets 503. */
  maxClients: number;
  /**
   * Event clients at once from one source address; beyond it an upgrade gets 429, so no single
   * address can take the console's slots (maxClients) from the operator.
   */
  maxClientsPerAddress: number;
  /** A client with more than this many bytes unsent is too slow and is disconnected. */
  maxBufferedBytes: number;
  /**
   * The server pings every client this often; a client that has not answered the previous ping
   * is dropped, so a dead or hostile one holds its slot for two intervals at most.
   */
  pingIntervalMs: number;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = {
  maxClients: 256,
  maxClientsPerAddress: 16,
  maxBufferedBytes: 4 << 20,
  pingIntervalMs: 30_000,
};

/** An upgrade this hub refused: the status to answer and the reason to log. */
export interface UpgradeRefusal { status: number; why: string }

export class EventHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
  /** Open clients, each with whether it answered the latest ping. */
  private readonly clients = new Map<WebSocket, { alive: boolean }>();
  /** Upgrades accepted or under way per canonical source address. */
  private readonly perAddress = new Map<string, number>();
  private pending = 0;
  private readonly limits: EventLimits;
  private readonly pinger: NodeJS.Timeout;

  constructor(limits: Partial<EventLimits> = {}) {
    this.limits = { ...DEFAULT_EVENT_LIMITS, ...limits };
    this.pinger = setInterval(() => this.ping(), this.limits.pingIntervalMs);
    this.pinger.unref();
  }

  /**
   * Takes an upgrade for /v1/events: false when the path is another one, true when the stream
   * opened (or is opening), or the refusal for the caller to answer and log. `admit` is the
   * operator check: a reason to refuse, or undefined.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex & { remoteAddress?: string | undefined }, head: Buffer, admit: () => string | undefined): boolean | UpgradeRefusal {
    if ((req.url ?? "").split("?")[0] !== EVENTS_PATH) return false;
    const why = admit();
    if (why !== undefined) return { status: 403, why };
    if (this.clients.size + this.pending >= this.limits.maxClients) return { status: 503, why: "events-full" };
    const address = canonicalAddress(socket.remoteAddress) ?? "";
    const held = this.perAddress.get(address) ?? 0;
    if (held >= this.limits.maxClientsPerAddress) return { status: 429, why: "events-per-address" };
    this.perAddress.set(address, held + 1);
    this.pending++;
    let settled = false;
    const settle = () => { if (!settled) { settled = true; this.pending--; } };
    // Counted per address until the socket closes, whether the handshake completes or not.
    socket.once("close", () => {
      settle();
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n > 0) this.perAddress.set(address, n); else this.perAddress.delete(address);
    });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      settle();
      this.clients.set(ws, { alive: true });
      ws.on("pong", () => { const c = this.clients.get(ws); if (c) c.alive = true; });
      ws.on("close", () => this.clients.delete(ws));
      ws.on("error", () => ws.terminate());
      ws.on("message", () => { /* read-only channel */ });
    });
    return true;
  }

  publishVm(vm: ConsoleVm): void {
    this.broadcast(JSON.stringify({ type: "vm", vm }));
  }

  /** The inventory changed: clients reload the whole state. */
  publishRevision(revision: string): void {
    this.broadcast(JSON.stringify({ type: "revision", revision }));
  }

  close(): void {
    clearInterval(this.pinger);
    for (const c of this.clients.keys()) c.close(1001, "server shutting down");
    this.wss.close();
  }

  /** Drops clients that did not answer the previous ping, and pings the rest. */
  private ping(): void {
    for (const [ws, state] of this.clients) {
      if (!state.alive) { ws.terminate(); this.clients.delete(ws); continue; }
      state.alive = false;
      if (ws.readyState === ws.OPEN) ws.ping();
    }
  }

  private broadcast(text: string): void {
    for (const c of this.clients.keys()) {
      if (c.bufferedAmount > this.limits.maxBufferedBytes) { c.terminate(); this.clients.delete(c); continue; }
      if (c.readyState === c.OPEN) c.send(text);
    }
  }
}
