// Live updates for browsers: /v1/events is a read-only WebSocket on which the server pushes the
// console view of a VM whenever its report or verdict changes. Browsers send nothing that is acted
// on; slow ones are dropped rather than buffered without bound. Who may connect at all is the
// operator check's to say (http/operator.ts, run by the caller through `admit`).
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { ConsoleVm } from "./console-view.ts";

export const EVENTS_PATH = "/v1/events";

/** An upgrade this hub refused: the status to answer and the reason to log. */
export interface UpgradeRefusal { status: number; why: string }

export interface EventHubOptions {
  maxClients?: number;
  /** A client with more than this many bytes unsent is too slow and is disconnected. */
  maxBufferedBytes?: number;
}

export class EventHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
  private readonly clients = new Set<WebSocket>();
  private readonly maxClients: number;
  private readonly maxBufferedBytes: number;

  constructor(opts: EventHubOptions = {}) {
    this.maxClients = opts.maxClients ?? 256;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 4 << 20;
  }

  /**
   * Takes an upgrade for /v1/events: false when the path is another one, true when the stream
   * opened (or is opening), or the refusal for the caller to answer and log. `admit` is the
   * operator check: a reason to refuse, or undefined.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, admit: () => string | undefined): boolean | UpgradeRefusal {
    if ((req.url ?? "").split("?")[0] !== EVENTS_PATH) return false;
    const why = admit();
    if (why !== undefined) return { status: 403, why };
    if (this.clients.size >= this.maxClients) return { status: 503, why: "events-full" };
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.add(ws);
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
    for (const c of this.clients) c.close(1001, "server shutting down");
    this.wss.close();
  }

  private broadcast(text: string): void {
    for (const c of this.clients) {
      if (c.bufferedAmount > this.maxBufferedBytes) { c.terminate(); this.clients.delete(c); continue; }
      if (c.readyState === c.OPEN) c.send(text);
    }
  }
}
