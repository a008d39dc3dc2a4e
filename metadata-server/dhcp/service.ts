// The DHCP/RA service: one device-bound UDP socket and one raw ICMPv6 socket per served
// interface, the pure server logic in between, counters, rogue-server detection and live reload.
// All policy lives in plan.ts / server-logic.ts / ra.ts; this file only moves bytes and time.
import type dgram from "node:dgram";
import { jsonLogger as lineLogger, levelEnabled, type LogLevel } from "../http/log.ts";
import { parseIpv4 } from "../model/addr.ts";
import type { ResolvedSite } from "../model/types.ts";
import { buildDhcpPlan, type DhcpPlan, type NetworkDhcpPlan, type PlanOptions } from "./plan.ts";
import {
  DEFAULT_SERVER_LOGIC_OPTIONS, MALFORMED_REASONS, compileNetwork, handleDatagram,
  type ServedNetwork, type ServerLogicOptions,
} from "./server-logic.ts";
import { LeaseTable, PersistentLeases } from "./leases.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, MESSAGE_TYPE_NAMES } from "./packet.ts";
import { decodeRs, encodeRa, ICMPV6_RS } from "./ra.ts";
import { DatagramBatch } from "./datagram-batch.ts";
import { RawIcmp6Socket, interfaceAddresses, interfaceMac, openDeviceUdp6Socket, openDeviceUdpSocket } from "./socket.ts";
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, DHCP6_MALFORMED, DHCPV6_SERVER_PORT, duidLl, handleDhcp6 } from "./dhcpv6.ts";

export type { LogLevel };
export type LogFn = ((level: LogLevel, event: string, fields?: Record<string, unknown>) => void) & {
  /** Whether a line at `level` would be written: the per-packet paths skip building fields otherwise. */
  enabled?: (level: LogLevel) => boolean;
};

/** Structured JSON lines on stderr, in the same format as `guestlink serve` writes (http/log.ts). */
export function jsonLogger(minLevel: LogLevel = "info", write: (line: string) => void = (l) => process.stderr.write(l)): LogFn {
  const lines = lineLogger(write, minLevel);
  return Object.assign((level: LogLevel, event: string, fields?: Record<string, unknown>) => lines.log(level, event, fields), {
    enabled: (level: LogLevel) => levelEnabled(level, minLevel),
  });
}

/** Counter names per reply type, made once: a template string per packet costs a flatten and a hash. */
const REPLY_COUNTERS: Record<number, string> = Object.fromEntries(Object.entries(MESSAGE_TYPE_NAMES).map(([code, name]) => [code, `replies.${name}`]));
/** Log event names per reply type ("offer", "ack", ...). */
const REPLY_EVENTS: Record<number, string> = Object.fromEntries(Object.entries(MESSAGE_TYPE_NAMES).map(([code, name]) => [code, name.toLowerCase()]));

export interface InterfaceSpec {
  ifname: string;
  /** Network name; when absent it is looked up in the inventory's host links. */
  network?: string;
}

export interface DhcpServiceOptions {
  /** JSON lease file for dynamic ranges; without it dynamic leases live in memory only. */
  leaseFile?: string;
  enableDhcp4: boolean;
  enableRa: boolean;
  /** Serve DHCPv6 on networks in dhcpv6-stateless / dhcpv6-stateful mode. */
  enableDhcp6: boolean;
  /** Listen on port 68 too, where other servers' broadcast replies arrive, and log them. */
  detectRogueServers: boolean;
  logic: ServerLogicOptions;
  plan: Partial<PlanOptions>;
  /** How often to retry opening the RA socket while the link-local address is missing or tentative, ms. */
  raRetryMs: number;
  /** RFC 4861 6.2.4: the first few RAs go out faster, at most this far apart, ms. */
  raInitialIntervalMs: number;
  raInitialCount: number;
  /** RFC 4861 6.2.6 MIN_DELAY_BETWEEN_RAS: multicast RAs are at least this far apart, ms. */
  raMinDelayMs: number;
  /**
   * Kernel receive buffer of each port-67 socket, bytes (the kernel default when absent). The
   * default of 1 MiB rides out a garbage-collection pause at 5,000 DORA/s: with the kernel's
   * 208 KiB, 0.3-1 % of packets were dropped at that rate, with 1 MiB none (bench/dhcp). Much
   * larger only makes answers later under sustained overload (4 MiB tripled latency at full speed).
   */
  receiveBufferBytes?: number;
  /**
   * Datagrams read (recvmmsg) and replies sent (sendmmsg) per system call on each port-67
   * socket once it is readable; 0 sends every datagram through dgram on its own. Batching cut
   * the server's CPU time per reply at full speed by a third (docs/dhcp.md, "Batched datagrams").
   */
  batchSlots: number;
  /**
   * At most this many datagrams are read in batches per event-loop turn, so a flood on one
   * interface cannot hold up the other interfaces, timers and (in `serve`) the HTTP server.
   */
  batchPerTurn: number;
  /** How long the interface's own IPv4 address (the server identifier) is cached, ms. */
  addressRefreshMs: number;
  /** How often expired dynamic leases are purged, ms. */
  leaseExpiryIntervalMs: number;
  /** A rogue server is logged at most once per this period (per server id and interface), ms. */
  rogueLogIntervalMs: number;
  /** Malformed packets are logged (not only counted) at most once per this period per interface, ms. */
  malformedLogIntervalMs: number;
  log: LogFn;
  /** Clock and randomness, injectable for tests. */
  now: () => number;
  random: () => number;
}

export const DEFAULT_DHCP_SERVICE_OPTIONS: DhcpServiceOptions = {
  enableDhcp4: true,
  enableRa: true,
  enableDhcp6: true,
  detectRogueServers: true,
  logic: DEFAULT_SERVER_LOGIC_OPTIONS,
  plan: {},
  raRetryMs: 1000,
  raInitialIntervalMs: 16_000,
  raInitialCount: 3,
  raMinDelayMs: 3000,
  receiveBufferBytes: 1 << 20,
  batchSlots: 32,
  batchPerTurn: 256,
  addressRefreshMs: 2000,
  leaseExpiryIntervalMs: 60_000,
  rogueLogIntervalMs: 60_000,
  malformedLogIntervalMs: 10_000,
  log: jsonLogger(),
  now: () => Date.now(),
  random: Math.random,
};

/** Maps each --interface to a network of the site, or explains why it cannot. */
export function resolveInterfaces(site: ResolvedSite, specs: InterfaceSpec[]): { ifname: string; network: string }[] | { error: string } {
  const out: { ifname: string; network: string }[] = [];
  for (const s of specs) {
    let network = s.network;
    if (!network) {
      const candidates = new Set<string>();
      for (const h of site.hosts) for (const [net, link] of Object.entries(h.networks)) if (link === s.ifname) candidates.add(net);
      if (candidates.size === 0 && site.networks.some((n) => n.name === s.ifname)) candidates.add(s.ifname);
      if (candidates.size !== 1) {
        return { error: `interface ${s.ifname}: ${candidates.size ? `carries several networks (${[...candidates].join(", ")})` : "no network of the inventory is on this link"}; write ${s.ifname}=NETWORK` };
      }
      network = [...candidates][0]!;
    }
    if (!site.networks.some((n) => n.name === network)) return { error: `interface ${s.ifname}: unknown network ${network}` };
    out.push({ ifname: s.ifname, network });
  }
  return out;
}

interface Binding {
  ifname: string;
  network: string;
  udp?: dgram.Socket;
  /** Batched reads and writes on udp's descriptor, when batchSlots > 0. */
  batch?: DatagramBatch;
  /** Set while a readable socket is being drained: replies wait in `batch` for one sendmmsg. */
  draining: boolean;
  /** Datagrams read from udp during this event-loop turn (reset by setImmediate). */
  datagramsThisTurn: number;
  /** Port 68 listener: other servers' broadcast OFFER/ACK/NAK land here, never on port 67. */
  monitor?: dgram.Socket;
  dhcp6?: dgram.Socket;
  dhcp6Opening?: boolean;
  ra?: RawIcmp6Socket;
  raTimer?: NodeJS.Timeout;
  raRetry?: NodeJS.Timeout;
  raSent: number;
  raFailures: number;
  lastMulticastRa: number;
  lastRaBytes?: string;
  pendingSolicited?: NodeJS.Timeout;
  rogueSeen: Map<string, number>;
  addressCache?: { at: number; network: ServedNetwork | undefined; serverId: string | undefined };
  duidCache?: { at: number; duid: Uint8Array | undefined };
  lastMalformedLog: number;
}

export class DhcpService {
  private plan: DhcpPlan;
  private served: ServedNetwork[] = [];
  private bindings: Binding[] = [];
  private readonly counters = new Map<string, number>();
  private leases: LeaseTable;
  private persistent?: PersistentLeases;
  private expiryTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly o: DhcpServiceOptions;

  private constructor(site: ResolvedSite, options: Partial<DhcpServiceOptions>) {
    this.o = { ...DEFAULT_DHCP_SERVICE_OPTIONS, ...options };
    this.plan = buildDhcpPlan(site, this.o.plan);
    this.served = this.plan.networks.map(compileNetwork).filter((n): n is ServedNetwork => n !== undefined);
    this.leases = new LeaseTable();
  }

  static async start(site: ResolvedSite, interfaces: InterfaceSpec[], options: Partial<DhcpServiceOptions> = {}): Promise<DhcpService> {
    const svc = new DhcpService(site, options);
    const resolved = resolveInterfaces(site, interfaces);
    if ("error" in resolved) throw new Error(resolved.error);
    if (svc.o.leaseFile) {
      svc.persistent = await PersistentLeases.load(svc.o.leaseFile);
      svc.leases = svc.persistent.table;
    } else if (svc.served.some((n) => n.dynamic)) {
      svc.o.log("warn", "leases-not-persisted", { why: "a network has a dynamic range and no lease file was given" });
    }
    try {
      for (const r of resolved) await svc.addBinding(r.ifname, r.network);
    } catch (e) {
      svc.stop();
      throw e;
    }
    svc.expiryTimer = setInterval(() => {
      const n = svc.leases.expire(Math.floor(svc.o.now() / 1000));
      if (n) svc.o.log("debug", "leases-expired", { count: n });
    }, svc.o.leaseExpiryIntervalMs);
    svc.expiryTimer.unref();
    svc.o.log("info", "started", { revision: site.revision, interfaces: resolved });
    return svc;
  }

  get currentPlan(): DhcpPlan {
    return this.plan;
  }

  /**
   * Counters by name: received (of which received-in-batches were read by recvmmsg),
   * replies.<TYPE>, drop.<reason>, malformed, rogue, send-errors, ra.sent, rs.received...
   */
  stats(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort());
  }

  private count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  private networkPlan(name: string): NetworkDhcpPlan | undefined {
    return this.plan.networks.find((n) => n.network === name);
  }

  private async addBinding(ifname: string, network: string): Promise<void> {
    const b: Binding = { ifname, network, draining: false, datagramsThisTurn: 0, raSent: 0, raFailures: 0, lastMulticastRa: 0, rogueSeen: new Map(), lastMalformedLog: 0 };
    this.bindings.push(b);
    if (this.o.enableDhcp4) {
      const opened = await openDeviceUdpSocket(ifname, DHCP_SERVER_PORT, this.o.receiveBufferBytes);
      b.udp = opened.socket;
      if (this.o.batchSlots > 0) b.batch = DatagramBatch.create(opened.fd, { slots: this.o.batchSlots, receiveBytes: this.o.logic.decodeLimits.maxLength + 1 });
      b.udp.on("message", (msg, rinfo) => this.onDhcpReadable(b, msg, rinfo.address));
      b.udp.on("error", (e) => this.o.log("error", "socket-error", { interface: ifname, error: String(e) }));
      if (this.o.detectRogueServers) {
        try {
          b.monitor = (await openDeviceUdpSocket(ifname, DHCP_CLIENT_PORT)).socket;
          b.monitor.on("message", (msg, rinfo) => this.onMonitor(b, msg, rinfo.address));
          b.monitor.on("error", (e) => this.o.log("warn", "monitor-socket-error", { interface: ifname, error: String(e) }));
        } catch (e) {
          this.o.log("warn", "rogue-detection-unavailable", { interface: ifname, error: String(e) });
        }
      }
    }
    if (this.o.enableRa) this.ensureRa(b);
    await this.ensureDhcp6(b);
  }

  private async ensureDhcp6(b: Binding): Promise<void> {
    if (!this.o.enableDhcp6 || b.dhcp6 || b.dhcp6Opening || this.stopped) return;
    if (!this.networkPlan(b.network)?.ipv6?.dhcpv6) return;
    b.dhcp6Opening = true;
    try {
      b.dhcp6 = await openDeviceUdp6Socket(b.ifname, DHCPV6_SERVER_PORT, [ALL_DHCP_RELAY_AGENTS_AND_SERVERS]);
      b.dhcp6.on("message", (msg, rinfo) => this.onDhcp6(b, msg, rinfo.address, rinfo.port));
      b.dhcp6.on("error", (e) => this.o.log("error", "dhcp6-socket-error", { interface: b.ifname, error: String(e) }));
      this.o.log("info", "dhcp6-started", { interface: b.ifname, network: b.network });
    } catch (e) {
      this.o.log("error", "dhcp6-unavailable", { interface: b.ifname, error: String(e) });
    } finally {
      b.dhcp6Opening = false;
    }
  }

  /** The server's DUID-LL on this link, re-read from sysfs no more often than the IPv4 address is. */
  private serverDuidFor(b: Binding): Uint8Array | undefined {
    const now = this.o.now();
    if (b.duidCache && now - b.duidCache.at < this.o.addressRefreshMs) return b.duidCache.duid;
    const mac = interfaceMac(b.ifname);
    b.duidCache = { at: now, duid: mac ? duidLl(mac) : undefined };
    return b.duidCache.duid;
  }

  private onDhcp6(b: Binding, msg: Buffer, from: string, port: number): void {
    this.count("dhcp6.received");
    const serverDuid = this.serverDuidFor(b);
    if (!serverDuid) return;
    const outcome = handleDhcp6(msg, { network: b.network, plan: this.networkPlan(b.network)?.ipv6, serverDuid, source: from });
    if (outcome.kind === "drop") {
      this.count(`dhcp6.drop.${outcome.reason}`);
      if (DHCP6_MALFORMED.has(outcome.reason)) this.count("malformed");
      this.o.log("debug", "dhcp6-dropped", { interface: b.ifname, from, reason: outcome.reason, detail: outcome.detail });
      return;
    }
    const to = from.includes("%") ? from : `${from}%${b.ifname}`;
    b.dhcp6?.send(outcome.bytes, port, to, (err) => {
      if (err) this.o.log("error", "dhcp6-send-failed", { interface: b.ifname, to, error: String(err) });
    });
    this.count(`dhcp6.replies.${outcome.type}`);
    this.o.log("info", "dhcp6-reply", { interface: b.ifname, network: b.network, to, type: outcome.type, mac: outcome.mac, address: outcome.address });
  }

  /** Our address on the binding's link: option 54 and where clients unicast RENEW/INFORM. */
  private serverIdFor(b: Binding, net: ServedNetwork | undefined): string | undefined {
    // Reading the interface's addresses is a getifaddrs() call: far too slow per packet, so the
    // answer is cached briefly (an address added to the interface is picked up within that time).
    const now = this.o.now();
    if (b.addressCache && b.addressCache.network === net && now - b.addressCache.at < this.o.addressRefreshMs) return b.addressCache.serverId;
    const serverId = this.computeServerId(b, net);
    b.addressCache = { at: now, network: net, serverId };
    return serverId;
  }

  private computeServerId(b: Binding, net: ServedNetwork | undefined): string | undefined {
    const own = interfaceAddresses(b.ifname).ipv4;
    if (net) {
      const inSubnet = own.find((a) => {
        const v = parseIpv4(a);
        const mask = net.cidr.prefixLength === 0 ? 0 : (0xffffffff << (32 - net.cidr.prefixLength)) >>> 0;
        return v !== undefined && ((v & mask) >>> 0) === Number(net.cidr.base);
      });
      if (inSubnet) return inSubnet;
    }
    return own[0] ?? net?.plan.serverIdentifier;
  }

  private onMonitor(b: Binding, msg: Buffer, from: string): void {
    const local = this.served.find((n) => n.name === b.network);
    const serverId = this.serverIdFor(b, local);
    if (!serverId) return;
    const outcome = handleDatagram(msg, { local, all: this.served, serverId, leases: this.leases, now: Math.floor(this.o.now() / 1000), options: this.o.logic });
    if (outcome.kind === "drop" && outcome.rogueServerId !== undefined) this.reportRogue(b, outcome.rogueServerId, outcome.rogueMessageType, outcome.mac, from);
  }

  private reportRogue(b: Binding, serverId: string, messageType: number | undefined, clientMac: string | undefined, from: string): void {
    this.count("rogue");
    const now = this.o.now();
    const last = b.rogueSeen.get(serverId) ?? -Infinity;
    if (now - last < this.o.rogueLogIntervalMs) return;
    b.rogueSeen.set(serverId, now);
    this.o.log("warn", "rogue-dhcp-server", {
      interface: b.ifname, network: b.network, serverId, from, message: MESSAGE_TYPE_NAMES[messageType ?? 0], clientMac,
    });
  }

  /**
   * dgram delivers the datagrams of a readable socket one by one, reading until it is empty.
   * The first of a turn is answered on its own: at light load it is the only one, and a batched
   * read would only find the queue empty. A second one in the same turn means a queue has
   * built up: the rest of it is read in batches, and the replies leave together.
   */
  private onDhcpReadable(b: Binding, msg: Buffer, from: string): void {
    const batch = b.batch;
    if (!batch) {
      this.onDhcp(b, msg, from);
      return;
    }
    if (b.datagramsThisTurn === 0) setImmediate(() => { b.datagramsThisTurn = 0; });
    b.datagramsThisTurn++;
    if (b.datagramsThisTurn === 1) {
      this.onDhcp(b, msg, from);
      return;
    }
    b.draining = true;
    try {
      this.onDhcp(b, msg, from);
      const budget = this.o.batchPerTurn - b.datagramsThisTurn;
      if (budget > 0) {
        const read = batch.receive(budget, (data, source) => this.onDhcp(b, data, source));
        b.datagramsThisTurn += read;
        if (read) this.count("received-in-batches", read);
      }
    } finally {
      b.draining = false;
      this.flushReplies(b);
    }
  }

  private flushReplies(b: Binding): void {
    if (!b.batch || b.batch.queued === 0) return;
    const r = b.batch.flush();
    for (const f of r.failed) {
      this.count("send-errors");
      this.o.log("error", "send-failed", { interface: b.ifname, to: f.address, error: f.error });
    }
    // The kernel's send buffer was full: dgram queues the rest and sends it when there is room.
    for (const d of r.deferred) this.sendThroughDgram(b, d.bytes, d.port, d.address);
  }

  private sendThroughDgram(b: Binding, bytes: Uint8Array, port: number, address: string): void {
    b.udp?.send(bytes, port, address, (err) => {
      if (err) {
        this.count("send-errors");
        this.o.log("error", "send-failed", { interface: b.ifname, to: address, error: String(err) });
      }
    });
  }

  /** `msg` may be a view into a batch buffer that the next read overwrites: nothing here keeps it. */
  private onDhcp(b: Binding, msg: Buffer, from: string): void {
    this.count("received");
    const local = this.served.find((n) => n.name === b.network);
    const serverId = this.serverIdFor(b, local);
    if (!serverId) {
      this.count("drop.no-server-address");
      return;
    }
    const now = this.o.now();
    const outcome = handleDatagram(msg, {
      local, all: this.served, serverId, leases: this.leases, now: Math.floor(now / 1000), options: this.o.logic,
    });
    switch (outcome.kind) {
      case "drop": {
        this.count(`drop.${outcome.reason}`);
        if (MALFORMED_REASONS.has(outcome.reason)) {
          this.count("malformed");
          if (now - b.lastMalformedLog >= this.o.malformedLogIntervalMs) {
            b.lastMalformedLog = now;
            this.o.log("warn", "malformed-dropped", { interface: b.ifname, from, reason: outcome.reason, detail: outcome.detail, total: this.counters.get("malformed") });
          }
        } else if (this.o.log.enabled?.("debug") ?? true) {
          this.o.log("debug", "dropped", { interface: b.ifname, from, reason: outcome.reason, mac: outcome.mac, detail: outcome.detail });
        }
        if (outcome.rogueServerId !== undefined) this.reportRogue(b, outcome.rogueServerId, outcome.rogueMessageType, outcome.mac, from);
        return;
      }
      case "silent": {
        this.count(`event.${outcome.event}`);
        const durable = this.leases.apply(outcome.effects);
        this.o.log("info", outcome.event, { interface: b.ifname, network: outcome.network, mac: outcome.mac, address: outcome.address });
        if (durable) void this.persist();
        return;
      }
      case "reply": {
        const durable = this.leases.apply(outcome.effects);
        const send = () => {
          if (this.stopped || !b.udp) return;
          if (b.batch?.queue(outcome.bytes, outcome.to.port, outcome.to.address)) {
            if (!b.draining) this.flushReplies(b);
          } else {
            this.sendThroughDgram(b, outcome.bytes, outcome.to.port, outcome.to.address);
          }
          this.count(REPLY_COUNTERS[outcome.messageType] ?? `replies.${outcome.messageType}`);
          if (this.o.log.enabled?.("info") ?? true) {
            this.o.log("info", REPLY_EVENTS[outcome.messageType] ?? String(outcome.messageType), {
              interface: b.ifname, network: outcome.network, mac: outcome.mac, address: outcome.address, to: outcome.to.address, state: outcome.state,
            });
          }
        };
        // A bound dynamic lease is on disk before the client hears of it.
        if (durable && this.persistent) this.persist().then(send, () => this.count("drop.persist-failed"));
        else send();
        return;
      }
    }
  }

  private async persist(): Promise<void> {
    if (!this.persistent) return;
    try {
      await this.persistent.save();
    } catch (e) {
      this.o.log("error", "lease-file-write-failed", { path: this.persistent.path, error: String(e) });
      throw e;
    }
  }

  // ------------------------------------------------------------------ router advertisements

  private raBytes(b: Binding): Uint8Array | undefined {
    const ra = this.networkPlan(b.network)?.ipv6?.ra;
    if (!ra) return undefined;
    return encodeRa(ra, { sourceMac: interfaceMac(b.ifname) });
  }

  private ensureRa(b: Binding): void {
    if (this.stopped || b.ra || b.raRetry) return;
    if (!this.networkPlan(b.network)?.ipv6?.ra) return;
    const linkLocal = interfaceAddresses(b.ifname).linkLocal;
    try {
      if (!linkLocal) throw new Error("no link-local address yet");
      b.ra = RawIcmp6Socket.open(b.ifname, linkLocal);
    } catch (e) {
      // The first failure is worth a warning; retries while DAD finishes are routine.
      this.o.log(b.raFailures++ === 0 ? "warn" : "debug", "ra-socket-retry", { interface: b.ifname, error: String(e) });
      b.raRetry = setTimeout(() => {
        b.raRetry = undefined;
        this.ensureRa(b);
      }, this.o.raRetryMs);
      return;
    }
    this.o.log("info", "ra-started", { interface: b.ifname, network: b.network, source: linkLocal });
    b.ra.startReceiving((d) => this.onRs(b, d.data, d.source), (e) => this.o.log("error", "ra-receive-error", { interface: b.ifname, error: String(e) }));
    this.sendRa(b, "ff02::1", "periodic");
  }

  private scheduleRa(b: Binding): void {
    if (b.raTimer) clearTimeout(b.raTimer);
    const ra = this.networkPlan(b.network)?.ipv6?.ra;
    if (!ra || this.stopped) return;
    let delay = (ra.minInterval + this.o.random() * (ra.maxInterval - ra.minInterval)) * 1000;
    if (b.raSent <= this.o.raInitialCount) delay = Math.min(delay, this.o.raInitialIntervalMs);
    b.raTimer = setTimeout(() => this.sendRa(b, "ff02::1", "periodic"), delay);
    b.raTimer.unref();
  }

  private sendRa(b: Binding, destination: string, why: string): void {
    if (!b.ra || this.stopped) return;
    const bytes = this.raBytes(b);
    if (!bytes) return;
    try {
      b.ra.send(bytes, destination);
      this.count("ra.sent");
      b.raSent++;
      b.lastRaBytes = Buffer.from(bytes).toString("hex");
      if (destination === "ff02::1") b.lastMulticastRa = this.o.now();
      this.o.log(why === "periodic" ? "debug" : "info", "ra-sent", { interface: b.ifname, to: destination, why, mtu: this.networkPlan(b.network)?.ipv6?.ra?.mtu });
    } catch (e) {
      this.count("ra.send-errors");
      this.o.log("error", "ra-send-failed", { interface: b.ifname, error: String(e) });
    }
    if (destination === "ff02::1") this.scheduleRa(b);
  }

  private onRs(b: Binding, data: Uint8Array, source: string): void {
    if (data[0] !== ICMPV6_RS) return;
    const rs = decodeRs(data);
    if ("error" in rs) {
      this.count("rs.malformed");
      return;
    }
    this.count("rs.received");
    // A solicitation from an address we can answer directly gets a unicast RA; one from the
    // unspecified address gets the (rate-limited) multicast one.
    if (source !== "::") {
      this.sendRa(b, source, "solicited");
      return;
    }
    if (b.pendingSolicited) return;
    const wait = Math.max(0, b.lastMulticastRa + this.o.raMinDelayMs - this.o.now());
    b.pendingSolicited = setTimeout(() => {
      b.pendingSolicited = undefined;
      this.sendRa(b, "ff02::1", "solicited");
    }, wait);
  }

  // ------------------------------------------------------------------ reload / stop

  /**
   * Swaps in a new inventory: reservations, options and MTUs apply to the next packet, and every
   * interface whose RA changed sends one at once (RFC 4861 6.2.4 allows it for changed information).
   */
  reload(site: ResolvedSite, why = "api"): { revision: string; raChanged: string[] } {
    const plan = buildDhcpPlan(site, this.o.plan);
    this.plan = plan;
    this.served = plan.networks.map(compileNetwork).filter((n): n is ServedNetwork => n !== undefined);
    const raChanged: string[] = [];
    for (const b of this.bindings) {
      void this.ensureDhcp6(b);
      if (!this.o.enableRa) continue;
      if (!b.ra) {
        this.ensureRa(b);
        continue;
      }
      const bytes = this.raBytes(b);
      const hex = bytes && Buffer.from(bytes).toString("hex");
      if (hex !== b.lastRaBytes) {
        raChanged.push(b.ifname);
        b.raSent = 0;
        this.sendRa(b, "ff02::1", "reload");
      }
    }
    this.count("reloads");
    const gone = this.bindings.filter((b) => !plan.networks.some((n) => n.network === b.network)).map((b) => `${b.ifname}=${b.network}`);
    if (gone.length) this.o.log("warn", "served-network-removed", { interfaces: gone, effect: "nothing is served there until the network is back" });
    this.o.log("info", "reloaded", { revision: site.revision, why, raChanged });
    return { revision: site.revision, raChanged };
  }

  get revision(): string {
    return this.plan.revision;
  }

  stop(): void {
    if (this.stopped) return;
    for (const b of this.bindings) {
      // RFC 4861 6.2.5: tell hosts we are no longer a default router.
      const ra = this.networkPlan(b.network)?.ipv6?.ra;
      if (b.ra && ra && ra.routerLifetime > 0) {
        try { b.ra.send(encodeRa(ra, { sourceMac: interfaceMac(b.ifname), ceasing: true }), "ff02::1"); } catch { /* best effort */ }
      }
    }
    this.stopped = true;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    for (const b of this.bindings) {
      if (b.raTimer) clearTimeout(b.raTimer);
      if (b.raRetry) clearTimeout(b.raRetry);
      if (b.pendingSolicited) clearTimeout(b.pendingSolicited);
      b.ra?.close();
      // The batch reads and writes udp's descriptor: it goes first, so nothing touches a closed one.
      b.batch = undefined;
      b.udp?.close();
      b.monitor?.close();
      b.dhcp6?.close();
    }
    this.o.log("info", "stopped", { counters: this.stats() });
  }
}
