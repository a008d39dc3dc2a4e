// The DHCPv4 server as a pure function: (served networks, lease view, datagram, now) -> what to
// send, or why nothing is sent. RFC 2131 section 4.3 with OVN's policy on top: known MACs get
// their reservation, every configured option is sent whether asked for or not, option 54 is in
// every reply and option 61 is echoed. Lease changes come back as effects for the edge to apply
// (and persist) before the reply goes out, so this module never owns state.
import { fnv1a, formatIpv4, parseCidr, parseIpv4, type Cidr } from "../model/addr.ts";
import type { Dhcp4Plan, DhcpReservation, NetworkDhcpPlan } from "./plan.ts";
import {
  BOOTREPLY, BOOTREQUEST, BROADCAST_FLAG, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, MessageType, Opt,
  decodeDhcp, encodeClasslessRoutes, encodeOptionRun, encodeDomainSearch, encodeDhcp, ipv4Bytes, macFromChaddr, textBytes, u16, u32, u8,
  type DecodeErrorCode, type DecodeLimits, type DhcpPacket, type EncodeOption, DEFAULT_DECODE_LIMITS,
} from "./packet.ts";

export interface ServerLogicOptions {
  /** Relayed requests whose hops count is higher are dropped (RFC 1542 4.1.1 suggests 16). */
  maxHops: number;
  /** How long a dynamic address offered in an OFFER is held for the client, seconds. */
  offerHoldSeconds: number;
  /** How long a dynamic address reported in a DECLINE stays out of the pool, seconds. */
  declineHoldSeconds: number;
  decodeLimits: DecodeLimits;
}

export const DEFAULT_SERVER_LOGIC_OPTIONS: ServerLogicOptions = {
  maxHops: 16,
  offerHoldSeconds: 60,
  declineHoldSeconds: 600,
  decodeLimits: DEFAULT_DECODE_LIMITS,
};

/** A dynamic-range lease. Reservations never need one: the inventory is their record. */
export interface Lease {
  network: string;
  address: string;
  /** Option 61 as hex when sent, else "mac:" + MAC. */
  clientKey: string;
  mac: string;
  state: "offered" | "bound" | "declined";
  /** Seconds since the epoch. */
  expiresAt: number;
}

/** Read access to the lease store; the logic never writes it directly. */
export interface LeaseView {
  byClient(network: string, clientKey: string): Lease | undefined;
  byAddress(network: string, address: string): Lease | undefined;
}

export type LeaseEffect =
  | { kind: "hold"; lease: Lease }
  | { kind: "bind"; lease: Lease }
  | { kind: "release"; network: string; address: string; clientKey: string }
  | { kind: "decline"; lease: Lease };

/**
 * Why a datagram got no reply.
 * Malformed (counted as such): any decode error code, plus bad-htype, bad-chaddr, bad-client-id,
 * too-many-hops, missing-requested-address, missing-ciaddr.
 * Policy (well-formed, deliberately unanswered): bootreply (another server's reply: rogue
 * detection reads it), not-served, unknown-relay-subnet, unknown-client, other-server,
 * not-our-lease, no-free-address, server-message-type.
 */
export type DropReason =
  | DecodeErrorCode
  | "bad-htype"
  | "bad-chaddr"
  | "bad-client-id"
  | "too-many-hops"
  | "missing-requested-address"
  | "missing-ciaddr"
  | "bootreply"
  | "server-message-type"
  | "not-served"
  | "unknown-relay-subnet"
  | "unknown-client"
  | "other-server"
  | "not-our-lease"
  | "no-free-address";

export const MALFORMED_REASONS: ReadonlySet<DropReason> = new Set<DropReason>([
  "short", "too-long", "bad-op", "bad-hlen", "bad-cookie", "truncated-option", "missing-end", "no-message-type",
  "bad-message-type", "bad-option-length", "overload-unsupported", "bad-htype", "bad-chaddr", "bad-client-id",
  "too-many-hops", "missing-requested-address", "missing-ciaddr",
]);

export interface Destination {
  address: string;
  port: number;
  broadcast: boolean;
}

export type Outcome =
  | {
      kind: "reply";
      messageType: number;
      bytes: Uint8Array;
      to: Destination;
      effects: LeaseEffect[];
      network: string;
      mac: string;
      address: string;
      /** The REQUEST sub-state that was answered, for logs: selecting, init-reboot, renew-rebind. */
      state?: string;
    }
  | { kind: "silent"; event: "decline" | "release"; network: string; mac: string; address: string; effects: LeaseEffect[] }
  | {
      kind: "drop";
      reason: DropReason;
      detail?: string;
      mac?: string;
      /** Set when the datagram is an OFFER/ACK/NAK from another server id on this link. */
      rogueServerId?: string;
      rogueMessageType?: number;
    };

/**
 * A reservation with its reply options encoded once per plan revision: in a boot storm every
 * reply copies them, and nothing is built (or left for the garbage collector) per packet.
 */
interface CompiledReservation {
  reservation: DhcpReservation;
  /** Lease options (51, 58, 59) and the configuration, for OFFER and ACK. */
  leaseOptions: EncodeOption;
  /** The configuration alone, for the ACK to an INFORM. */
  informOptions: EncodeOption;
}

/** A network's DHCPv4 plan with its lookups and option bytes prepared once per plan revision. */
export interface ServedNetwork {
  name: string;
  plan: Dhcp4Plan;
  cidr: Cidr;
  /** The subnet's base address and mask as 32-bit values (relay lookups run per packet). */
  subnetBase: number;
  subnetMask: number;
  byMac: Map<string, CompiledReservation>;
  reservedAddresses: Set<string>;
  dynamic?: { start: number; end: number; leaseOptions: EncodeOption; informOptions: EncodeOption };
}

function configOptions(plan: Dhcp4Plan, r: DhcpReservation | undefined, withLease: boolean): EncodeOption[] {
  const opts: EncodeOption[] = [];
  if (withLease) {
    opts.push({ code: Opt.LEASE_TIME, data: u32(plan.leaseTime) });
    opts.push({ code: Opt.RENEWAL_TIME, data: u32(plan.renewalTime) });
    opts.push({ code: Opt.REBINDING_TIME, data: u32(plan.rebindingTime) });
  }
  opts.push({ code: Opt.SUBNET_MASK, data: ipv4Bytes([plan.subnetMask]) });
  const router = r ? r.router : plan.router;
  if (router) opts.push({ code: Opt.ROUTER, data: ipv4Bytes([router]) });
  if (plan.dnsServers.length) opts.push({ code: Opt.DNS_SERVERS, data: ipv4Bytes(plan.dnsServers) });
  if (r?.hostname) opts.push({ code: Opt.HOST_NAME, data: textBytes(r.hostname) });
  if (plan.domainName) opts.push({ code: Opt.DOMAIN_NAME, data: textBytes(plan.domainName) });
  const mtu = r ? r.mtu : plan.mtu;
  if (mtu !== undefined) opts.push({ code: Opt.INTERFACE_MTU, data: u16(mtu) });
  if (plan.domainSearch.length) {
    const enc = encodeDomainSearch(plan.domainSearch);
    if (!("error" in enc)) opts.push({ code: Opt.DOMAIN_SEARCH, data: enc });
  }
  const routes = r ? r.classlessRoutes : plan.classlessRoutes;
  if (routes.length) {
    const enc = encodeClasslessRoutes(routes);
    if (!("error" in enc)) opts.push({ code: Opt.CLASSLESS_ROUTES, data: enc });
  }
  return opts;
}

/** Prepares one network for serving; undefined when it has no DHCPv4 to serve. */
export function compileNetwork(plan: NetworkDhcpPlan): ServedNetwork | undefined {
  const p = plan.ipv4;
  if (!p) return undefined;
  const cidr = parseCidr(p.subnet);
  if ("error" in cidr) return undefined;
  const byMac = new Map<string, CompiledReservation>();
  const reservedAddresses = new Set<string>();
  for (const r of p.reservations) {
    byMac.set(r.mac, { reservation: r, leaseOptions: encodeOptionRun(configOptions(p, r, true)), informOptions: encodeOptionRun(configOptions(p, r, false)) });
    reservedAddresses.add(r.address);
  }
  let dynamic: ServedNetwork["dynamic"];
  if (p.dynamicRange) {
    const start = parseIpv4(p.dynamicRange.start);
    const end = parseIpv4(p.dynamicRange.end);
    if (start !== undefined && end !== undefined && start <= end) {
      dynamic = { start, end, leaseOptions: encodeOptionRun(configOptions(p, undefined, true)), informOptions: encodeOptionRun(configOptions(p, undefined, false)) };
    }
  }
  const subnetMask = cidr.prefixLength === 0 ? 0 : (0xffffffff << (32 - cidr.prefixLength)) >>> 0;
  return { name: plan.network, plan: p, cidr, subnetBase: Number(cidr.base), subnetMask, byMac, reservedAddresses, dynamic };
}

export interface HandleContext {
  /** The network the receiving interface serves (unrelayed requests). */
  local?: ServedNetwork;
  /** Every served network, for requests relayed through giaddr. */
  all: readonly ServedNetwork[];
  /** Our address as the clients see it: option 54 and the address they unicast to. */
  serverId: string;
  leases: LeaseView;
  /** Seconds since the epoch. */
  now: number;
  options?: ServerLogicOptions;
}

const ZERO = "0.0.0.0";

function inSubnet(net: ServedNetwork, ip: string): boolean {
  const v = parseIpv4(ip);
  return v !== undefined && inSubnetValue(net, v);
}

function inSubnetValue(net: ServedNetwork, v: number): boolean {
  return ((v & net.subnetMask) >>> 0) === net.subnetBase;
}

function optIpv4(p: DhcpPacket, code: number): string | undefined {
  const v = p.options.get(code);
  return v && v.length === 4 ? `${v[0]}.${v[1]}.${v[2]}.${v[3]}` : undefined;
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

interface Client {
  mac: string;
  key: string;
  net: ServedNetwork;
  reservation?: CompiledReservation;
}

export function handleDatagram(bytes: Uint8Array, ctx: HandleContext): Outcome {
  const o = ctx.options ?? DEFAULT_SERVER_LOGIC_OPTIONS;
  const decoded = decodeDhcp(bytes, o.decodeLimits);
  if (!decoded.ok) return { kind: "drop", reason: decoded.error.code, detail: decoded.error.detail };
  return handlePacket(decoded.packet, ctx);
}

export function handlePacket(p: DhcpPacket, ctx: HandleContext): Outcome {
  const o = ctx.options ?? DEFAULT_SERVER_LOGIC_OPTIONS;
  const mac = p.hlen === 6 ? macFromChaddr(p.chaddr) : undefined;
  if (p.op === BOOTREPLY) {
    const sid = optIpv4(p, Opt.SERVER_ID);
    const isServerMessage = p.messageType === MessageType.OFFER || p.messageType === MessageType.ACK || p.messageType === MessageType.NAK;
    const rogue = isServerMessage && sid !== ctx.serverId;
    return { kind: "drop", reason: "bootreply", mac, ...(rogue ? { rogueServerId: sid ?? "unknown", rogueMessageType: p.messageType } : {}) };
  }
  if (p.op !== BOOTREQUEST) return { kind: "drop", reason: "bad-op" };
  if (p.htype !== 1 || p.hlen !== 6) return { kind: "drop", reason: "bad-htype", detail: `htype ${p.htype} hlen ${p.hlen}` };
  if (!mac || mac === "00:00:00:00:00:00" || (p.chaddr[0]! & 1) === 1) return { kind: "drop", reason: "bad-chaddr", mac };
  if (p.hops > o.maxHops) return { kind: "drop", reason: "too-many-hops", mac };
  const cid = p.options.get(Opt.CLIENT_ID);
  if (cid && cid.length < 2) return { kind: "drop", reason: "bad-client-id", mac };
  if (
    p.messageType === MessageType.OFFER || p.messageType === MessageType.ACK || p.messageType === MessageType.NAK
  ) return { kind: "drop", reason: "server-message-type", mac };

  let net: ServedNetwork | undefined;
  if (p.giaddr !== ZERO) {
    net = ctx.all.find((n) => inSubnetValue(n, p.giaddrValue));
    if (!net) return { kind: "drop", reason: "unknown-relay-subnet", mac, detail: p.giaddr };
  } else {
    net = ctx.local;
    if (!net) return { kind: "drop", reason: "not-served", mac };
  }
  const client: Client = { mac, key: cid ? `id:${hex(cid)}` : `mac:${mac}`, net, reservation: net.byMac.get(mac) };
  if (!client.reservation && !net.dynamic) return { kind: "drop", reason: "unknown-client", mac };

  switch (p.messageType) {
    case MessageType.DISCOVER: return discover(p, client, ctx, o);
    case MessageType.REQUEST: return request(p, client, ctx);
    case MessageType.DECLINE: return decline(p, client, ctx, o);
    case MessageType.RELEASE: return release(p, client, ctx);
    case MessageType.INFORM: return inform(p, client, ctx);
    default: return { kind: "drop", reason: "server-message-type", mac };
  }
}

function leaseIsLive(l: Lease | undefined, now: number): l is Lease {
  return l !== undefined && l.expiresAt > now;
}

/** An address in the dynamic range nobody else holds: not reserved, no live lease of another client. */
function addressFreeFor(net: ServedNetwork, address: string, client: Client, ctx: HandleContext): boolean {
  const v = parseIpv4(address);
  if (!net.dynamic || v === undefined || v < net.dynamic.start || v > net.dynamic.end) return false;
  if (net.reservedAddresses.has(address)) return false;
  if (address === ctx.serverId || address === net.plan.router) return false;
  const l = ctx.leases.byAddress(net.name, address);
  if (!leaseIsLive(l, ctx.now)) return true;
  return l.state !== "declined" && l.clientKey === client.key;
}

function dynamicAddressFor(p: DhcpPacket, client: Client, ctx: HandleContext): string | undefined {
  const net = client.net;
  if (!net.dynamic) return undefined;
  const existing = ctx.leases.byClient(net.name, client.key);
  if (existing && existing.state !== "declined" && addressFreeFor(net, existing.address, client, ctx)) return existing.address;
  const wanted = optIpv4(p, Opt.REQUESTED_ADDRESS);
  if (wanted && addressFreeFor(net, wanted, client, ctx)) return wanted;
  const size = net.dynamic.end - net.dynamic.start + 1;
  // Start the scan at a hash of the client so concurrent DISCOVERs from a fresh pool do not all
  // race for the first address.
  const h = fnv1a(client.key);
  for (let i = 0; i < size; i++) {
    const a = formatIpv4(net.dynamic.start + ((h + i) % size));
    if (addressFreeFor(net, a, client, ctx)) return a;
  }
  return undefined;
}

function destination(p: DhcpPacket, messageType: number): Destination {
  if (p.giaddr !== ZERO) return { address: p.giaddr, port: DHCP_SERVER_PORT, broadcast: false };
  if (messageType === MessageType.NAK) return { address: "255.255.255.255", port: DHCP_CLIENT_PORT, broadcast: true };
  if (p.ciaddr !== ZERO) return { address: p.ciaddr, port: DHCP_CLIENT_PORT, broadcast: false };
  // A client without an address cannot answer ARP, and unicasting to it would need a raw socket
  // to bypass ARP; every client measured (dhclient, udhcpc, dhcpcd) accepts broadcast replies.
  return { address: "255.255.255.255", port: DHCP_CLIENT_PORT, broadcast: true };
}

const serverIds = new Map<string, Uint8Array>();

/** Option 54's value; an interface has one or two addresses, so this map stays tiny. */
function serverIdBytes(serverId: string): Uint8Array {
  let b = serverIds.get(serverId);
  if (!b) {
    b = ipv4Bytes([serverId]);
    if (serverIds.size >= 1024) serverIds.clear();
    serverIds.set(serverId, b);
  }
  return b;
}

function reply(
  p: DhcpPacket,
  client: Client,
  ctx: HandleContext,
  messageType: number,
  yiaddr: string,
  /** The options after 53 and 54: a pre-encoded run, or a NAK's message. */
  config: EncodeOption,
  effects: LeaseEffect[],
  state?: string,
): Outcome {
  const options: EncodeOption[] = [
    { code: Opt.MESSAGE_TYPE, data: u8(messageType) },
    { code: Opt.SERVER_ID, data: serverIdBytes(ctx.serverId) },
    config,
  ];
  const cid = p.options.get(Opt.CLIENT_ID);
  if (cid) options.push({ code: Opt.CLIENT_ID, data: cid });
  const relayed = p.giaddr !== ZERO;
  // RFC 2131 4.3.2: a NAK through a relay asks the relay to broadcast it.
  const flags = messageType === MessageType.NAK && relayed ? p.flags | BROADCAST_FLAG : p.flags;
  const bytes = encodeDhcp({
    op: BOOTREPLY,
    xid: p.xid,
    flags,
    ciaddr: messageType === MessageType.NAK ? ZERO : p.ciaddr,
    yiaddr,
    giaddr: p.giaddr,
    chaddr: p.chaddr,
    options,
  });
  return {
    kind: "reply", messageType, bytes, to: destination(p, messageType), effects,
    network: client.net.name, mac: client.mac, address: yiaddr, ...(state ? { state } : {}),
  };
}

function nak(p: DhcpPacket, client: Client, ctx: HandleContext, why: string): Outcome {
  return reply(p, client, ctx, MessageType.NAK, ZERO, { code: Opt.MESSAGE, data: textBytes(why) }, [], "nak");
}

function discover(p: DhcpPacket, client: Client, ctx: HandleContext, o: ServerLogicOptions): Outcome {
  if (client.reservation) {
    return reply(p, client, ctx, MessageType.OFFER, client.reservation.reservation.address, client.reservation.leaseOptions, []);
  }
  const address = dynamicAddressFor(p, client, ctx);
  if (!address) return { kind: "drop", reason: "no-free-address", mac: client.mac };
  const existing = ctx.leases.byAddress(client.net.name, address);
  const effects: LeaseEffect[] = leaseIsLive(existing, ctx.now) && existing.state === "bound"
    ? []
    : [{ kind: "hold", lease: { network: client.net.name, address, clientKey: client.key, mac: client.mac, state: "offered", expiresAt: ctx.now + o.offerHoldSeconds } }];
  return reply(p, client, ctx, MessageType.OFFER, address, client.net.dynamic!.leaseOptions, effects);
}

function request(p: DhcpPacket, client: Client, ctx: HandleContext): Outcome {
  const sid = optIpv4(p, Opt.SERVER_ID);
  const requested = optIpv4(p, Opt.REQUESTED_ADDRESS);
  let state: "selecting" | "init-reboot" | "renew-rebind";
  let address: string;
  if (sid !== undefined) {
    // SELECTING: the client broadcasts its choice; a REQUEST naming another server tells us it
    // took someone else's offer.
    if (sid !== ctx.serverId) {
      return { kind: "drop", reason: "other-server", mac: client.mac, detail: sid };
    }
    state = "selecting";
    const a = requested ?? (p.ciaddr !== ZERO ? p.ciaddr : undefined);
    if (!a) return { kind: "drop", reason: "missing-requested-address", mac: client.mac };
    address = a;
  } else if (requested !== undefined) {
    state = "init-reboot";
    address = requested;
  } else if (p.ciaddr !== ZERO) {
    state = "renew-rebind";
    address = p.ciaddr;
  } else {
    return { kind: "drop", reason: "missing-requested-address", mac: client.mac };
  }

  const net = client.net;
  if (client.reservation) {
    if (address !== client.reservation.reservation.address) {
      return nak(p, client, ctx, "address not reserved for this client");
    }
    return reply(p, client, ctx, MessageType.ACK, address, client.reservation.leaseOptions, [], state);
  }
  // Dynamic client: the address must be on this network and either free or already this
  // client's. A free address is granted even without our record of it, so leases survive a lost
  // lease file (the client's INIT-REBOOT or RENEW restores them).
  if (!inSubnet(net, address)) return nak(p, client, ctx, "address not on this network");
  if (!addressFreeFor(net, address, client, ctx)) return nak(p, client, ctx, "address not available");
  const bound: Lease = { network: net.name, address, clientKey: client.key, mac: client.mac, state: "bound", expiresAt: ctx.now + net.plan.leaseTime };
  return reply(p, client, ctx, MessageType.ACK, address, net.dynamic!.leaseOptions, [{ kind: "bind", lease: bound }], state);
}

function decline(p: DhcpPacket, client: Client, ctx: HandleContext, o: ServerLogicOptions): Outcome {
  const sid = optIpv4(p, Opt.SERVER_ID);
  if (sid !== undefined && sid !== ctx.serverId) return { kind: "drop", reason: "other-server", mac: client.mac, detail: sid };
  const address = optIpv4(p, Opt.REQUESTED_ADDRESS);
  if (!address) return { kind: "drop", reason: "missing-requested-address", mac: client.mac };
  const effects: LeaseEffect[] = [];
  // A declined reservation is an address conflict the operator must fix; like OVN we only log it.
  if (!client.reservation && client.net.dynamic && inSubnet(client.net, address)) {
    effects.push({
      kind: "decline",
      lease: { network: client.net.name, address, clientKey: client.key, mac: client.mac, state: "declined", expiresAt: ctx.now + o.declineHoldSeconds },
    });
  }
  return { kind: "silent", event: "decline", network: client.net.name, mac: client.mac, address, effects };
}

function release(p: DhcpPacket, client: Client, ctx: HandleContext): Outcome {
  const sid = optIpv4(p, Opt.SERVER_ID);
  if (sid !== undefined && sid !== ctx.serverId) return { kind: "drop", reason: "other-server", mac: client.mac, detail: sid };
  if (p.ciaddr === ZERO) return { kind: "drop", reason: "missing-ciaddr", mac: client.mac };
  const effects: LeaseEffect[] = [];
  if (!client.reservation) {
    const lease = ctx.leases.byAddress(client.net.name, p.ciaddr);
    if (!lease || lease.clientKey !== client.key) return { kind: "drop", reason: "not-our-lease", mac: client.mac, detail: p.ciaddr };
    effects.push({ kind: "release", network: client.net.name, address: p.ciaddr, clientKey: client.key });
  }
  return { kind: "silent", event: "release", network: client.net.name, mac: client.mac, address: p.ciaddr, effects };
}

function inform(p: DhcpPacket, client: Client, ctx: HandleContext): Outcome {
  if (p.ciaddr === ZERO) return { kind: "drop", reason: "missing-ciaddr", mac: client.mac };
  if (client.reservation) {
    return reply(p, client, ctx, MessageType.ACK, ZERO, client.reservation.informOptions, [], "inform");
  }
  if (!inSubnet(client.net, p.ciaddr)) return { kind: "drop", reason: "unknown-client", mac: client.mac, detail: p.ciaddr };
  return reply(p, client, ctx, MessageType.ACK, ZERO, client.net.dynamic!.informOptions, [], "inform");
}
