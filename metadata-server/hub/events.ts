// Live updates for browsers: /v1/events is a read-only WebSocket on which the server pushes the
// console view of a VM whenever its report or verdict changes. Browsers send nothing that is acted
// on; slow ones are dropped rather than buffered without bound.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { ConsoleVm } from "./console-view.ts";

export const EVENTS_PATH = "/v1/events";

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

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if ((req.url ?? "").split("?")[0] !== EVENTS_PATH) return false;
    if (this.clients.size >= this.maxClients) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
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
