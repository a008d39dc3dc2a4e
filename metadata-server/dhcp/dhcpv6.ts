// DHCPv6 (RFC 8415) for networks in dhcpv6-stateless and dhcpv6-stateful mode. Pure: datagram
// in, reply or drop reason out. Stateless: INFORMATION-REQUEST -> REPLY with DNS servers and the
// domain search list. Stateful: reserved addresses only (like DHCPv4, known MACs get their
// reservation; there is no dynamic IPv6 pool): SOLICIT -> ADVERTISE (or REPLY with rapid commit),
// REQUEST/RENEW/REBIND -> REPLY with the IA_NA, CONFIRM, RELEASE and DECLINE -> REPLY with a
// status. DHCPv6 carries no MTU, router or prefix length: those always come from the RA.
// Relay messages are not supported and are dropped.
import { concatBytes, dnsWireNames, macBytes, macText, writeU32 } from "./bytes.ts";
import { ipv6Bytes, parseIpv6, readIpv6 } from "../model/addr.ts";
import type { Ipv6Plan } from "./plan.ts";

export const DHCPV6_CLIENT_PORT = 546;
export const DHCPV6_SERVER_PORT = 547;
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = "ff02::1:2";

export const Msg6 = {
  SOLICIT: 1, ADVERTISE: 2, REQUEST: 3, CONFIRM: 4, RENEW: 5, REBIND: 6, REPLY: 7, RELEASE: 8, DECLINE: 9,
  RECONFIGURE: 10, INFORMATION_REQUEST: 11, RELAY_FORW: 12, RELAY_REPL: 13,
} as const;

export const Opt6 = {
  CLIENTID: 1, SERVERID: 2, IA_NA: 3, IA_TA: 4, IAADDR: 5, ORO: 6, ELAPSED_TIME: 8, STATUS_CODE: 13, RAPID_COMMIT: 14,
  DNS_SERVERS: 23, DOMAIN_LIST: 24, INFORMATION_REFRESH_TIME: 32,
} as const;

export const Status6 = { SUCCESS: 0, UNSPEC_FAIL: 1, NO_ADDRS_AVAIL: 2, NO_BINDING: 3, NOT_ON_LINK: 4, USE_MULTICAST: 5 } as const;

export interface Dhcp6Options {
  /** Largest datagram accepted. */
  maxLength: number;
  /** Option 32 in REPLYs to INFORMATION-REQUEST, seconds (RFC 8415 21.23 default 86400). */
  informationRefreshTime: number;
}

export const DEFAULT_DHCP6_OPTIONS: Dhcp6Options = { maxLength: 9000, informationRefreshTime: 86_400 };

export interface Dhcp6Message {
  type: number;
  transactionId: number;
  /** Options in order; repeated codes (several IA_NA) are kept. */
  options: { code: number; data: Uint8Array }[];
}

export type Dhcp6DropReason =
  | "short" | "too-long" | "truncated-option" | "bad-ia" | "relay-unsupported" | "server-message"
  | "missing-client-id" | "unexpected-server-id" | "other-server" | "not-served" | "unknown-client" | "unsupported-message";

export const DHCP6_MALFORMED: ReadonlySet<Dhcp6DropReason> = new Set<Dhcp6DropReason>(["short", "too-long", "truncated-option", "bad-ia", "missing-client-id"]);

export type Dhcp6Outcome =
  | { kind: "reply"; type: number; bytes: Uint8Array; mac?: string; address?: string }
  | { kind: "drop"; reason: Dhcp6DropReason; detail?: string };

function put16(b: Uint8Array, at: number, v: number): void { b[at] = (v >>> 8) & 255; b[at + 1] = v & 255; }
function get16(b: Uint8Array, at: number): number { return (b[at]! << 8) | b[at + 1]!; }

function parseOptions(b: Uint8Array, from: number, to: number): { code: number; data: Uint8Array }[] | undefined {
  const out: { code: number; data: Uint8Array }[] = [];
  let at = from;
  while (at < to) {
    if (at + 4 > to) return undefined;
    const code = get16(b, at);
    const len = get16(b, at + 2);
    if (at + 4 + len > to) return undefined;
    out.push({ code, data: b.subarray(at + 4, at + 4 + len) });
    at += 4 + len;
  }
  return out;
}

export function decodeDhcp6(b: Uint8Array, o: Dhcp6Options = DEFAULT_DHCP6_OPTIONS): Dhcp6Message | { error: Dhcp6DropReason } {
  if (b.length < 4) return { error: "short" };
  if (b.length > o.maxLength) return { error: "too-long" };
  const type = b[0]!;
  if (type === Msg6.RELAY_FORW || type === Msg6.RELAY_REPL) return { error: "relay-unsupported" };
  const options = parseOptions(b, 4, b.length);
  if (!options) return { error: "truncated-option" };
  return { type, transactionId: (b[1]! << 16) | (b[2]! << 8) | b[3]!, options };
}

export function option6(code: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + data.length);
  put16(b, 0, code);
  put16(b, 2, data.length);
  b.set(data, 4);
  return b;
}

export function encodeDhcp6(type: number, transactionId: number, options: Uint8Array[]): Uint8Array {
  const head = Uint8Array.of(type, (transactionId >>> 16) & 255, (transactionId >>> 8) & 255, transactionId & 255);
  return concatBytes([head, ...options]);
}


/** DUID-LL (RFC 8415 11.4) of an Ethernet MAC: our server identifier. */
export function duidLl(mac: string): Uint8Array {
  const b = new Uint8Array(10);
  put16(b, 0, 3);
  put16(b, 2, 1);
  b.set(macBytes(mac).subarray(0, 6), 4);
  return b;
}

/**
 * The client's MAC: from a DUID-LLT or DUID-LL with an Ethernet address, else from a modified
 * EUI-64 link-local source address. Undefined when neither tells (DUID-EN/UUID from a privacy
 * address).
 */
export function clientMac(clientId: Uint8Array | undefined, source: string | undefined): string | undefined {
  if (clientId && clientId.length >= 4) {
    const type = get16(clientId, 0);
    const hw = get16(clientId, 2);
    if (type === 1 && hw === 1 && clientId.length === 14) return macText(clientId.subarray(8, 14));
    if (type === 3 && hw === 1 && clientId.length === 10) return macText(clientId.subarray(4, 10));
  }
  const v = source ? parseIpv6(source.split("%")[0]!) : undefined;
  if (v !== undefined && (v >> 64n) === 0xfe80000000000000n && ((v >> 24n) & 0xffffn) === 0xfffen) {
    const iid = v & 0xffffffffffffffffn;
    const b = new Uint8Array(6);
    const top = Number((iid >> 40n) & 0xffffffn) ^ 0x020000;
    b[0] = (top >> 16) & 255; b[1] = (top >> 8) & 255; b[2] = top & 255;
    const low = Number(iid & 0xffffffn);
    b[3] = (low >> 16) & 255; b[4] = (low >> 8) & 255; b[5] = low & 255;
    return macText(b);
  }
  return undefined;
}


function status(code: number, message: string): Uint8Array {
  const text = new TextEncoder().encode(message);
  const b = new Uint8Array(2 + text.length);
  put16(b, 0, code);
  b.set(text, 2);
  return option6(Opt6.STATUS_CODE, b);
}

export interface Dhcp6Context {
  network: string;
  plan: Ipv6Plan | undefined;
  serverDuid: Uint8Array;
  /** Source address of the datagram (link-local), for MAC recovery from EUI-64. */
  source?: string;
  options?: Dhcp6Options;
}

type Dhcp6Reservation = NonNullable<Ipv6Plan["dhcpv6"]>["reservations"][number];

/**
 * MAC -> reservation, built once per plan revision: a boot storm of SOLICITs must not scan every
 * reservation per packet. One entry per plan object, so the WeakMap stays tiny.
 */
const reservationIndex = new WeakMap<readonly Dhcp6Reservation[], Map<string, Dhcp6Reservation>>();

function reservationFor(reservations: readonly Dhcp6Reservation[], mac: string): Dhcp6Reservation | undefined {
  let index = reservationIndex.get(reservations);
  if (!index) {
    index = new Map();
    // The first reservation of a MAC wins, as a scan in order would find it.
    for (const r of reservations) if (!index.has(r.mac)) index.set(r.mac, r);
    reservationIndex.set(reservations, index);
  }
  return index.get(mac);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function handleDhcp6(bytes: Uint8Array, ctx: Dhcp6Context): Dhcp6Outcome {
  const o = ctx.options ?? DEFAULT_DHCP6_OPTIONS;
  const m = decodeDhcp6(bytes, o);
  if ("error" in m) return { kind: "drop", reason: m.error };
  const d6 = ctx.plan?.dhcpv6;
  if (!d6) return { kind: "drop", reason: "not-served" };
  const get = (code: number) => m.options.find((x) => x.code === code)?.data;
  const clientId = get(Opt6.CLIENTID);
  const serverId = get(Opt6.SERVERID);
  const ias = m.options.filter((x) => x.code === Opt6.IA_NA).map((x) => x.data);
  if (ias.some((ia) => ia.length < 12 || !parseOptions(ia, 12, ia.length))) return { kind: "drop", reason: "bad-ia" };

  const common: Uint8Array[] = [option6(Opt6.SERVERID, ctx.serverDuid)];
  if (clientId) common.push(option6(Opt6.CLIENTID, clientId));
  if (d6.dnsServers.length) common.push(option6(Opt6.DNS_SERVERS, concatBytes(d6.dnsServers.map(ipv6Bytes))));
  if (d6.domainSearch.length) common.push(option6(Opt6.DOMAIN_LIST, dnsWireNames(d6.domainSearch)));

  switch (m.type) {
    case Msg6.ADVERTISE: case Msg6.REPLY: case Msg6.RECONFIGURE:
      return { kind: "drop", reason: "server-message" };
    case Msg6.INFORMATION_REQUEST: {
      if (serverId && !equalBytes(serverId, ctx.serverDuid)) return { kind: "drop", reason: "other-server" };
      const refresh = new Uint8Array(4);
      writeU32(refresh, 0, o.informationRefreshTime);
      return { kind: "reply", type: Msg6.REPLY, bytes: encodeDhcp6(Msg6.REPLY, m.transactionId, [...common, option6(Opt6.INFORMATION_REFRESH_TIME, refresh)]) };
    }
  }
  if (!clientId) return { kind: "drop", reason: "missing-client-id" };
  if (!d6.stateful) return { kind: "drop", reason: "unsupported-message", detail: "stateless network" };
  const mac = clientMac(clientId, ctx.source);
  const reservation = mac ? reservationFor(d6.reservations, mac) : undefined;
  const needsOurId = m.type === Msg6.REQUEST || m.type === Msg6.RENEW || m.type === Msg6.RELEASE || m.type === Msg6.DECLINE;
  const forbidsId = m.type === Msg6.SOLICIT || m.type === Msg6.REBIND || m.type === Msg6.CONFIRM;
  if (needsOurId && (!serverId || !equalBytes(serverId, ctx.serverDuid))) return { kind: "drop", reason: "other-server" };
  if (forbidsId && serverId) return { kind: "drop", reason: "unexpected-server-id" };
  if (!reservation && m.type !== Msg6.CONFIRM) return { kind: "drop", reason: "unknown-client", detail: mac };

  const leaseTime = d6.leaseTime;
  // RFC 8415 21.4 recommends T1 = 0.5 and T2 = 0.8 of the preferred lifetime.
  const t1 = Math.floor(leaseTime * 0.5);
  const t2 = Math.floor(leaseTime * 0.8);
  const iaReply = (ia: Uint8Array, withAddress: boolean, st?: Uint8Array): Uint8Array => {
    const head = new Uint8Array(12);
    head.set(ia.subarray(0, 4), 0); // IAID
    writeU32(head, 4, withAddress ? t1 : 0);
    writeU32(head, 8, withAddress ? t2 : 0);
    const inner: Uint8Array[] = [];
    if (withAddress && reservation) {
      const a = new Uint8Array(24);
      a.set(ipv6Bytes(reservation.address), 0);
      writeU32(a, 16, leaseTime);
      writeU32(a, 20, leaseTime);
      inner.push(option6(Opt6.IAADDR, a));
    }
    if (st) inner.push(st);
    return option6(Opt6.IA_NA, concatBytes([head, ...inner]));
  };
  const reply = (type: number, extra: Uint8Array[]): Dhcp6Outcome => ({
    kind: "reply", type, bytes: encodeDhcp6(type, m.transactionId, [...common, ...extra]), mac, address: reservation?.address,
  });

  switch (m.type) {
    case Msg6.SOLICIT: {
      const iaOptions = ias.map((ia) => iaReply(ia, true));
      if (get(Opt6.RAPID_COMMIT)) return reply(Msg6.REPLY, [option6(Opt6.RAPID_COMMIT, new Uint8Array(0)), ...iaOptions]);
      return reply(Msg6.ADVERTISE, iaOptions);
    }
    case Msg6.REQUEST:
    case Msg6.RENEW:
    case Msg6.REBIND:
      return reply(Msg6.REPLY, ias.map((ia) => iaReply(ia, true)));
    case Msg6.CONFIRM: {
      // RFC 8415 18.3.3: only whether the addresses are on this link.
      const prefix = parseIpv6(ctx.plan!.prefix) ?? 0n;
      const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - ctx.plan!.prefixLength)) - 1n);
      const addrs: string[] = [];
      for (const ia of ias) for (const opt of parseOptions(ia, 12, ia.length) ?? []) if (opt.code === Opt6.IAADDR && opt.data.length >= 24) addrs.push(readIpv6(opt.data, 0));
      if (addrs.length === 0) return { kind: "drop", reason: "bad-ia", detail: "CONFIRM without addresses" };
      const onLink = addrs.every((a) => ((parseIpv6(a) ?? 0n) & mask) === prefix);
      return reply(Msg6.REPLY, [onLink ? status(Status6.SUCCESS, "all addresses on link") : status(Status6.NOT_ON_LINK, "not on this link")]);
    }
    case Msg6.RELEASE:
    case Msg6.DECLINE:
      // Reservations are the inventory's; like OVN, releasing or declining one is only logged.
      return reply(Msg6.REPLY, [status(Status6.SUCCESS, m.type === Msg6.RELEASE ? "released" : "declined")]);
    default:
      return { kind: "drop", reason: "unsupported-message", detail: String(m.type) };
  }
}
