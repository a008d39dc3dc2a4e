// The HTTP edge: node:http listeners with explicit limits, the routing table, metrics, JSON logs
// and graceful shutdown. Everything a handler decides comes back as a value; this file alone
// touches sockets.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import type { SiteStore } from "../site-store.ts";
import { addAcceptors } from "./acceptors.ts";
import { DEFAULT_EC2_OPTIONS, DEFAULT_NOCLOUD_OPTIONS, type Ec2Options, type NoCloudOptions, type ServiceContext } from "./context.ts";
import type { IdentifyConfig } from "./identify.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { checkOperator, operatorHostKey } from "./operator.ts";
import { ResponseHeaders } from "./response-headers.ts";
import { Router, type ListenerRole, type Route } from "./router.ts";
import { apiRoutes } from "./routes/api.ts";
import { ec2Routes } from "./routes/ec2.ts";
import { nocloudRoutes } from "./routes/nocloud.ts";
import { openstackRoutes } from "./routes/openstack.ts";
import { reportRoutes, rootRoute } from "./routes/reports.ts";
import type { ReportsService } from "../hub/reports.ts";

export interface HttpLimits {
  /** Largest request head accepted (request line + headers); larger gets 431. Guests send < 1 KiB. */
  maxHeaderSize: number;
  /** Time allowed to receive the complete request head; slower clients get 408 (slowloris guard). */
  headersTimeoutMs: number;
  /** Time allowed to receive the whole request. */
  requestTimeoutMs: number;
  /** Idle time after a response before a keep-alive connection is closed. */
  keepAliveTimeoutMs: number;
  /** Open connections per listener; beyond it new connections are closed at once. */
  maxConnections: number;
  /**
   * Connections each listener accepts per event-loop turn at most. libuv accepts one per turn
   * and listen descriptor; a busy turn takes milliseconds, so a burst of guests would wait in
   * the accept queue (see acceptors.ts). Each unit above 1 costs one descriptor per listener.
   */
  acceptsPerTurn: number;
  /** Largest request body accepted; no route reads a body, so anything larger gets 413. */
  maxBodyBytes: number;
  /** On SIGTERM, how long in-flight requests may take before their connections are cut. */
  shutdownGraceMs: number;
  /** How often node checks connections against headersTimeoutMs and requestTimeoutMs. */
  timeoutCheckIntervalMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxHeaderSize: 8 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 8192,
  acceptsPerTurn: 64,
  maxBodyBytes: 1024,
  shutdownGraceMs: 10_000,
  timeoutCheckIntervalMs: 1_000,
};

export interface ListenSpec {
  host: string;
  port: number;
  roles: readonly ListenerRole[];
}

export interface ServiceOptions {
  store: SiteStore;
  secret: Uint8Array;
  listen: readonly ListenSpec[];
  identify: IdentifyConfig;
  /** Names and addresses, besides loopback and the listener's own address, that operator requests may carry in Host. */
  operatorHosts?: readonly string[];
  ec2?: Ec2Options;
  nocloud?: NoCloudOptions;
  limits?: Partial<HttpLimits>;
  log: Logger;
  /** One log line per request (default false: a boot storm would write thousands per second). Refusals are always logged. */
  accessLog?: boolean;
  /** Guest reports: the agents' and browsers' WebSockets, the store and the views. */
  reports?: ReportsService;
}

/** Options of every accepted socket, whichever handle accepted it. Small documents: send them at once instead of waiting to coalesce. */
const SOCKET_OPTIONS = { noDelay: true } as const;

/** Guest routes first: they are the hot path. Operator routes only exist on operator listeners. */
const ROUTES: Route<ServiceContext>[] = [...nocloudRoutes, ...openstackRoutes, rootRoute, ...ec2Routes, ...reportRoutes, ...apiRoutes];

export interface BoundListener { host: string; port: number; roles: readonly ListenerRole[] }

export class MetadataService {
  readonly metrics = new Metrics();
  readonly limits: HttpLimits;
  /** Every operator route passes the one operator check (http/operator.ts) first. */
  private readonly router = new Router(ROUTES, (req) => checkOperator(req.ctx, { peer: req.peer, local: req.local, headers: req.headers, upgrade: false }));
  private readonly operatorHosts: ReadonlySet<string>;
  private readonly responseHeaders = new ResponseHeaders();
  private readonly servers: Server[] = [];
  /** Extra accepting handles on the servers' listening sockets; closed with them. */
  private readonly acceptors: NetServer[] = [];
  private readonly sockets = new Set<Socket>();
  private inFlight = 0;
  private closing = false;
  private readonly startedAt = Date.now();

  constructor(private readonly options: ServiceOptions) {
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
    this.operatorHosts = new Set((options.operatorHosts ?? []).map((h) => {
      const key = operatorHostKey(h);
      if (key === undefined) throw new Error(`operator host ${JSON.stringify(h)} is not a host name or address`);
      return key;
    }));
    const store = options.store;
    this.metrics.addGauge({ name: "guestlink_inventory_vms", help: "VMs in the inventory revision being served.", samples: () => [[{}, store.current()?.vms.length ?? 0]] });
    this.metrics.addGauge({ name: "guestlink_inventory_info", help: "Inventory revision being served (value is always 1).", samples: () => [[{ revision: store.current()?.revision ?? "" }, 1]] });
    this.metrics.addGauge({
      name: "guestlink_inventory_reloads_total", help: "Inventory reloads by result.", type: "counter",
      samples: () => Object.entries(store.counters).map(([result, n]) => [{ result }, n]),
    });
    this.metrics.addGauge({ name: "guestlink_render_cache_documents", help: "Rendered documents cached for the current revision.", samples: () => [[{}, store.current()?.cachedDocuments ?? 0]] });
    this.metrics.addGauge({ name: "guestlink_http_requests_in_flight", help: "Requests received and not yet answered (this one included).", samples: () => [[{}, this.inFlight]] });
    this.metrics.addGauge({ name: "guestlink_http_open_connections", help: "Open HTTP connections over all listeners.", samples: () => [[{}, this.sockets.size]] });
  }

  async start(): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    for (const spec of this.options.listen) {
      const server = createServer({
        maxHeaderSize: this.limits.maxHeaderSize,
        headersTimeout: this.limits.headersTimeoutMs,
        requestTimeout: this.limits.requestTimeoutMs,
        keepAliveTimeout: this.limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: this.limits.timeoutCheckIntervalMs,
        ...SOCKET_OPTIONS,
      }, (req, res) => this.handle(spec.roles, req, res));
      // WebSockets: agents on guest listeners, consoles on operator listeners (behind the same
      // operator check as the operator routes); anything else is refused.
      server.on("upgrade", (req, socket: Socket, head) => {
        const started = process.hrtime.bigint();
        const admit = () => checkOperator(this.context(), { peer: socket.remoteAddress, local: socket.localAddress, headers: req.headers, upgrade: true });
        const outcome = this.closing ? false : this.options.reports?.handleUpgrade(spec.roles, req, socket, head, admit) ?? false;
        if (outcome === true) return;
        const { status, why, route } = outcome === false ? { status: 404, why: "no-route", route: "unmatched" } : { ...outcome, route: "events" };
        socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        this.logged(route, req.method ?? "GET", status, started, socket.remoteAddress, { denied: why });
      });
      // Counted here rather than with node's server.maxConnections, which sees only the
      // connections its own handle accepted, not those the extra acceptors hand over.
      let open = 0;
      server.on("connection", (socket: Socket) => {
        if (open >= this.limits.maxConnections) { socket.destroy(); return; }
        open++;
        this.sockets.add(socket);
        socket.once("close", () => { open--; this.sockets.delete(socket); });
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: spec.host, port: spec.port, exclusive: true }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      server.on("error", (err) => this.options.log.log("error", "http.server_error", { error: err.message }));
      this.acceptors.push(...await addAcceptors(server, this.limits.acceptsPerTurn, SOCKET_OPTIONS,
        (err) => this.options.log.log("warn", "http.acceptor_failed", { error: err.message })));
      const addr = server.address() as AddressInfo;
      this.servers.push(server);
      bound.push({ host: addr.address, port: addr.port, roles: spec.roles });
      this.options.log.log("info", "http.listening", { address: addr.address, port: addr.port, roles: spec.roles });
    }
    return bound;
  }

  /** Stops accepting, lets in-flight requests finish (up to shutdownGraceMs), then closes everything. */
  async shutdown(reason: string): Promise<{ cut: number }> {
    if (this.closing) return { cut: 0 };
    this.closing = true;
    const log = this.options.log;
    // Every handle on a listening socket must close, or the socket keeps accepting.
    const closed = Promise.all([...this.acceptors, ...this.servers].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of this.servers) s.closeIdleConnections();
    // Logged once the listeners are closed, so whoever reads it knows new connections are refused.
    log.log("info", "http.shutting_down", { reason, inFlight: this.inFlight, connections: this.sockets.size });
    const deadline = Date.now() + this.limits.shutdownGraceMs;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      for (const s of this.servers) s.closeIdleConnections();
    }
    const cut = this.inFlight;
    for (const s of this.servers) s.closeAllConnections();
    // Upgraded (WebSocket) sockets are no longer HTTP connections, but they still hold the listener open.
    for (const socket of this.sockets) socket.destroy();
    await closed;
    log.log("info", "http.stopped", { reason, cutRequests: cut });
    return { cut };
  }

  private handle(roles: readonly ListenerRole[], req: IncomingMessage, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    this.inFlight++;
    res.once("close", () => this.inFlight--);
    const method = req.method ?? "GET";
    const length = Number(req.headers["content-length"] ?? 0);
    const tooLarge = () => this.send(req, res, "body", method, started, {
      status: 413, headers: { "content-type": "text/plain; charset=utf-8", connection: "close" }, body: "Payload Too Large\n", denied: "body",
    });
    if (!(length >= 0) || length > this.limits.maxBodyBytes) { tooLarge(); return; }
    if (length === 0 && req.headers["transfer-encoding"] === undefined) { this.answer(roles, method, req, res, started); return; }
    // No route reads a body, but a request is answered only once it has fully arrived (bounded
    // by maxBodyBytes and requestTimeoutMs), as HTTP expects.
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > this.limits.maxBodyBytes && !res.headersSent) { tooLarge(); req.destroy(); }
    });
    req.once("end", () => { if (!res.headersSent) this.answer(roles, method, req, res, started); });
  }

  /** What a handler may read while answering one request (or one upgrade). */
  private context(): ServiceContext {
    return {
      snapshot: this.options.store.current(),
      identify: this.options.identify,
      operatorHosts: this.operatorHosts,
      secret: this.options.secret,
      ec2: this.options.ec2 ?? DEFAULT_EC2_OPTIONS,
      nocloud: this.options.nocloud ?? DEFAULT_NOCLOUD_OPTIONS,
      now: Date.now(),
      metrics: this.metrics,
      reloads: this.options.store.counters,
      startedAt: this.startedAt,
      ...(this.options.reports ? { reports: this.options.reports } : {}),
    };
  }

  private answer(roles: readonly ListenerRole[], method: string, req: IncomingMessage, res: ServerResponse, started: bigint): void {
    const ctx = this.context();
    let route = "error";
    let reply;
    try {
      const result = this.router.route(roles, method, req.url, req.headers, req.socket.remoteAddress, ctx, req.socket.localAddress);
      route = result.route;
      reply = result.reply;
    } catch (err) {
      this.options.log.log("error", "http.handler_failed", { error: (err as Error).stack ?? String(err) });
      reply = { status: 500, headers: { "content-type": "text/plain; charset=utf-8" }, body: "Internal Server Error\n" };
    }
    this.send(req, res, route, method, started, reply);
  }

  private send(req: IncomingMessage, res: ServerResponse, route: string, method: string, started: bigint, reply: { status: number; headers?: Record<string, string>; body?: Buffer | string; denied?: string; vm?: string }): void {
    const body = reply.body === undefined ? undefined : typeof reply.body === "string" ? Buffer.from(reply.body) : reply.body;
    res.writeHead(reply.status, this.responseHeaders.get(reply.headers, body?.length ?? 0, this.closing));
    res.end(method === "HEAD" ? undefined : body);
    this.logged(route, method, reply.status, started, req.socket.remoteAddress, reply);
  }

  /** Counts an answer in the metrics and logs it: refusals always (http.denied), the rest with accessLog. */
  private logged(route: string, method: string, status: number, started: bigint, peer: string | undefined, reply: { denied?: string; vm?: string }): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.observe(route, method, status, seconds);
    if (reply.denied || this.options.accessLog) {
      this.options.log.log(reply.denied && status !== 404 ? "warn" : "info", reply.denied ? "http.denied" : "http.request", {
        method, route, status, peer, ...(reply.vm ? { vm: reply.vm } : {}),
        ...(reply.denied ? { why: reply.denied } : {}), ms: Math.round(seconds * 1e5) / 100,
      });
    }
  }
}
