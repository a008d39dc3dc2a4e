// DHCPv4 wire format (RFC 2131 BOOTP header, RFC 2132 options, RFC 3396 long options, RFC 3442
// option 121, RFC 3397 option 119). Pure: bytes in, typed values out. decodeDhcp never throws on
// arbitrary input; every way a datagram can be malformed maps to one stable error code, so the
// service can count drops per cause.
import { macText, readU32, writeU32 } from "./bytes.ts";
import { formatIpv4, parseIpv4 } from "../model/addr.ts";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
/** Fixed BOOTP header (236 bytes) plus the magic cookie. */
export const HEADER_LENGTH = 240;
/** RFC 1542 2.1: relays and some clients drop BOOTP messages shorter than 300 bytes. */
export const MIN_BOOTP_LENGTH = 300;
export const BROADCAST_FLAG = 0x8000;

export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];
export const MESSAGE_TYPE_NAMES: Record<number, string> = {
  1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE", 8: "INFORM",
};

export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  INTERFACE_MTU: 26,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  DOMAIN_SEARCH: 119,
  CLASSLESS_ROUTES: 121,
  END: 255,
} as const;

/**
 * Decode errors. Each is a drop reason the service counts under its own name.
 * - short: fewer bytes than the fixed header and cookie.
 * - too-long: longer than the largest datagram we accept (maxLength).
 * - bad-op: op is neither BOOTREQUEST nor BOOTREPLY.
 * - bad-hlen: hardware address length over 16.
 * - bad-cookie: the magic cookie is not 99.130.83.99.
 * - truncated-option: an option's length runs past the end of the datagram.
 * - missing-end: the option area has no END option.
 * - no-message-type: option 53 is absent (a plain BOOTP request, which we do not serve).
 * - bad-message-type: option 53 is not exactly one byte in 1..8.
 * - bad-option-length: a fixed-size option we read (50, 51, 54, 57, 58, 59) has the wrong length.
 * - overload-unsupported: option 52 asks us to read options out of sname/file (RFC 2132 9.3).
 */
export type DecodeErrorCode =
  | "short"
  | "too-long"
  | "bad-op"
  | "bad-hlen"
  | "bad-cookie"
  | "truncated-option"
  | "missing-end"
  | "no-message-type"
  | "bad-message-type"
  | "bad-option-length"
  | "overload-unsupported";

export interface DecodeError {
  code: DecodeErrorCode;
  detail: string;
}

/** A decoded message. Its byte fields (chaddr, sname, file, option values) are views into the datagram. */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** giaddr as a 32-bit value, for matching relays to subnets without parsing text per packet. */
  giaddrValue: number;
  /** The 16-byte chaddr field, as sent. */
  chaddr: Uint8Array;
  sname: Uint8Array;
  file: Uint8Array;
  messageType: MessageTypeValue;
  /** Option code -> value; repeated instances are concatenated (RFC 3396). */
  options: Map<number, Uint8Array>;
}

export type DecodeResult = { ok: true; packet: DhcpPacket } | { ok: false; error: DecodeError };

export interface DecodeLimits {
  /** Larger datagrams are refused: a DHCP message never needs more than a jumbo frame. */
  maxLength: number;
}
export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxLength: 9000 };

const FIXED_LENGTH_OPTIONS: Record<number, number> = {
  [Opt.REQUESTED_ADDRESS]: 4,
  [Opt.LEASE_TIME]: 4,
  [Opt.SERVER_ID]: 4,
  [Opt.MAX_MESSAGE_SIZE]: 2,
  [Opt.RENEWAL_TIME]: 4,
  [Opt.REBINDING_TIME]: 4,
};

function fail(code: DecodeErrorCode, detail: string): DecodeResult {
  return { ok: false, error: { code, detail } };
}

function readIpv4(buf: Uint8Array, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

export function decodeDhcp(buf: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodeResult {
  if (buf.length < HEADER_LENGTH) return fail("short", `${buf.length} bytes, need at least ${HEADER_LENGTH}`);
  if (buf.length > limits.maxLength) return fail("too-long", `${buf.length} bytes, limit ${limits.maxLength}`);
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return fail("bad-op", `op ${op}`);
  const hlen = buf[2]!;
  if (hlen > 16) return fail("bad-hlen", `hlen ${hlen}`);
  if (readU32(buf, 236) !== MAGIC_COOKIE) return fail("bad-cookie", "magic cookie mismatch");

  const options = new Map<number, Uint8Array>();
  let at = HEADER_LENGTH;
  let ended = false;
  while (at < buf.length) {
    const code = buf[at]!;
    if (code === Opt.PAD) { at++; continue; }
    if (code === Opt.END) { ended = true; break; }
    if (at + 1 >= buf.length) return fail("truncated-option", `option ${code} has no length byte`);
    const len = buf[at + 1]!;
    if (at + 2 + len > buf.length) return fail("truncated-option", `option ${code} length ${len} runs past the end`);
    const value = buf.subarray(at + 2, at + 2 + len);
    const prev = options.get(code);
    if (prev) {
      const joined = new Uint8Array(prev.length + value.length);
      joined.set(prev, 0);
      joined.set(value, prev.length);
      options.set(code, joined);
    } else {
      options.set(code, value);
    }
    at += 2 + len;
  }
  if (!ended) return fail("missing-end", "no END option");
  if (options.has(Opt.OVERLOAD)) return fail("overload-unsupported", "option 52 (overload) is not supported");
  const mt = options.get(Opt.MESSAGE_TYPE);
  if (!mt) return fail("no-message-type", "option 53 absent");
  if (mt.length !== 1 || mt[0]! < 1 || mt[0]! > 8) return fail("bad-message-type", `option 53 length ${mt.length}`);
  for (const [code, len] of Object.entries(FIXED_LENGTH_OPTIONS)) {
    const v = options.get(Number(code));
    if (v && v.length !== len) return fail("bad-option-length", `option ${code} has length ${v.length}, expected ${len}`);
  }
  return {
    ok: true,
    packet: {
      op,
      htype: buf[1]!,
      hlen,
      hops: buf[3]!,
      xid: readU32(buf, 4),
      secs: (buf[8]! << 8) | buf[9]!,
      flags: (buf[10]! << 8) | buf[11]!,
      ciaddr: readIpv4(buf, 12),
      yiaddr: readIpv4(buf, 16),
      siaddr: readIpv4(buf, 20),
      giaddr: readIpv4(buf, 24),
      giaddrValue: readU32(buf, 24),
      chaddr: buf.subarray(28, 44),
      sname: buf.subarray(44, 108),
      file: buf.subarray(108, 236),
      messageType: mt[0]! as MessageTypeValue,
      options,
    },
  };
}

export interface EncodeOption {
  code: number;
  data: Uint8Array;
}

/**
 * Not an option: `data` is a run of options already encoded (encodeOptionRun), copied verbatim.
 * A reservation's options are the same in every reply, so they are encoded once per plan.
 */
export const PRE_ENCODED = -1;

/** The options as one pre-encoded run, to be sent as they are in many replies. */
export function encodeOptionRun(options: readonly EncodeOption[]): EncodeOption {
  const bytes = new Uint8Array(optionsLength(options) - 1);
  writeOptions(bytes, 0, options);
  return { code: PRE_ENCODED, data: bytes };
}

export interface EncodePacket {
  op: number;
  htype?: number;
  hlen?: number;
  hops?: number;
  xid: number;
  secs?: number;
  flags?: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  chaddr: Uint8Array;
  /** In order; option 53 must be included by the caller (first, by convention). */
  options: EncodeOption[];
}

/** Replies carry the same few addresses over and over (the relay, the reserved ones): parse each once. */
const ipv4Values = new Map<string, number>();
const MAX_IPV4_VALUES = 65_536;

/** parseIpv4 with a bounded cache, for addresses written per reply (header fields, reply destinations). */
export function cachedIpv4Value(text: string): number | undefined {
  let v = ipv4Values.get(text);
  if (v === undefined) {
    v = parseIpv4(text);
    if (v === undefined) return undefined;
    if (ipv4Values.size >= MAX_IPV4_VALUES) ipv4Values.clear();
    ipv4Values.set(text, v);
  }
  return v;
}

function writeIpv4(buf: Uint8Array, at: number, text: string | undefined): void {
  const v = text === undefined ? 0 : cachedIpv4Value(text) ?? 0;
  buf[at] = (v >>> 24) & 255;
  buf[at + 1] = (v >>> 16) & 255;
  buf[at + 2] = (v >>> 8) & 255;
  buf[at + 3] = v & 255;
}

/** Bytes an option list takes on the wire, including RFC 3396 splitting of values over 255 bytes. */
function optionsLength(options: readonly EncodeOption[]): number {
  let n = 0;
  for (const o of options) {
    n += o.code === PRE_ENCODED ? o.data.length : o.data.length === 0 ? 2 : Math.ceil(o.data.length / 255) * 2 + o.data.length;
  }
  return n + 1; // END
}

function writeOptions(buf: Uint8Array, at: number, options: readonly EncodeOption[]): number {
  for (const o of options) {
    const len = o.data.length;
    if (o.code === PRE_ENCODED) {
      buf.set(o.data, at);
      at += len;
    } else if (len === 0) {
      buf[at++] = o.code;
      buf[at++] = 0;
    } else if (len <= 255) {
      buf[at++] = o.code;
      buf[at++] = len;
      buf.set(o.data, at);
      at += len;
    } else {
      // RFC 3396: a long value is split over several instances of the option.
      for (let off = 0; off < len; off += 255) {
        const chunk = o.data.subarray(off, Math.min(off + 255, len));
        buf[at++] = o.code;
        buf[at++] = chunk.length;
        buf.set(chunk, at);
        at += chunk.length;
      }
    }
  }
  return at;
}

/** Encodes a message, zero-padded to at least minLength bytes (300 for replies, RFC 1542). */
export function encodeDhcp(p: EncodePacket, minLength = MIN_BOOTP_LENGTH): Uint8Array {
  const length = Math.max(minLength, HEADER_LENGTH + optionsLength(p.options));
  const buf = new Uint8Array(length);
  buf[0] = p.op;
  buf[1] = p.htype ?? 1;
  buf[2] = p.hlen ?? 6;
  buf[3] = p.hops ?? 0;
  writeU32(buf, 4, p.xid);
  const secs = p.secs ?? 0;
  buf[8] = (secs >>> 8) & 255;
  buf[9] = secs & 255;
  const flags = p.flags ?? 0;
  buf[10] = (flags >>> 8) & 255;
  buf[11] = flags & 255;
  writeIpv4(buf, 12, p.ciaddr);
  writeIpv4(buf, 16, p.yiaddr);
  writeIpv4(buf, 20, p.siaddr);
  writeIpv4(buf, 24, p.giaddr);
  buf.set(p.chaddr.subarray(0, 16), 28);
  writeU32(buf, 236, MAGIC_COOKIE);
  const at = writeOptions(buf, HEADER_LENGTH, p.options);
  buf[at] = Opt.END;
  return buf;
}

// ---------------------------------------------------------------- option value codecs

export function u8(v: number): Uint8Array {
  return Uint8Array.of(v & 255);
}
export function u16(v: number): Uint8Array {
  return Uint8Array.of((v >>> 8) & 255, v & 255);
}
export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32(b, 0, v >>> 0);
  return b;
}
export function readU16Value(b: Uint8Array): number | undefined {
  return b.length === 2 ? (b[0]! << 8) | b[1]! : undefined;
}
export function readU32Value(b: Uint8Array): number | undefined {
  return b.length === 4 ? readU32(b, 0) : undefined;
}

export function ipv4Bytes(list: readonly string[]): Uint8Array {
  const b = new Uint8Array(list.length * 4);
  list.forEach((ip, i) => writeIpv4(b, i * 4, ip));
  return b;
}

export function textBytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function macFromChaddr(chaddr: Uint8Array, hlen = 6): string {
  return macText(chaddr.subarray(0, hlen));
}

export function chaddrFromMac(mac: string): Uint8Array {
  const b = new Uint8Array(16);
  mac.split(/[:-]/).forEach((h, i) => { if (i < 16) b[i] = parseInt(h, 16); });
  return b;
}

export interface ClasslessRoute {
  /** Destination in CIDR form, "0.0.0.0/0" for the default route. */
  to: string;
  via: string;
}

export type CodecError = { error: string };

/** RFC 3442: width byte, the significant octets of the destination, then the router. */
export function encodeClasslessRoutes(routes: readonly ClasslessRoute[]): Uint8Array | CodecError {
  const out: number[] = [];
  for (const r of routes) {
    const slash = r.to.indexOf("/");
    const dst = parseIpv4(slash < 0 ? r.to : r.to.slice(0, slash));
    const width = slash < 0 ? 32 : Number(r.to.slice(slash + 1));
    const via = parseIpv4(r.via);
    if (dst === undefined || via === undefined || !Number.isInteger(width) || width < 0 || width > 32) {
      return { error: `route ${r.to} via ${r.via} is not an IPv4 route` };
    }
    out.push(width);
    const significant = Math.ceil(width / 8);
    for (let i = 0; i < significant; i++) out.push((dst >>> (24 - i * 8)) & 255);
    out.push((via >>> 24) & 255, (via >>> 16) & 255, (via >>> 8) & 255, via & 255);
  }
  return Uint8Array.from(out);
}

export function decodeClasslessRoutes(b: Uint8Array): ClasslessRoute[] | CodecError {
  const routes: ClasslessRoute[] = [];
  let at = 0;
  while (at < b.length) {
    const width = b[at]!;
    if (width > 32) return { error: `width ${width} over 32` };
    const significant = Math.ceil(width / 8);
    if (at + 1 + significant + 4 > b.length) return { error: "route runs past the end of the option" };
    let dst = 0;
    for (let i = 0; i < 4; i++) dst = dst * 256 + (i < significant ? b[at + 1 + i]! : 0);
    routes.push({ to: `${formatIpv4(dst)}/${width}`, via: readIpv4(b, at + 1 + significant) });
    at += 1 + significant + 4;
  }
  return routes;
}

/**
 * RFC 3397 (RFC 1035 name encoding with compression pointers relative to the start of the
 * option data). Suffixes shared with an earlier name become a two-byte pointer.
 */
export function encodeDomainSearch(domains: readonly string[]): Uint8Array | CodecError {
  const out: number[] = [];
  const suffixAt = new Map<string, number>();
  for (const raw of domains) {
    const name = raw.endsWith(".") ? raw.slice(0, -1) : raw;
    const labels = name === "" ? [] : name.split(".");
    let i = 0;
    for (; i < labels.length; i++) {
      const suffix = labels.slice(i).join(".").toLowerCase();
      const ptr = suffixAt.get(suffix);
      if (ptr !== undefined) {
        out.push(0xc0 | (ptr >> 8), ptr & 255);
        break;
      }
      if (out.length < 0x3fff) suffixAt.set(suffix, out.length);
      const bytes = new TextEncoder().encode(labels[i]!);
      if (bytes.length === 0 || bytes.length > 63) return { error: `label "${labels[i]}" in ${raw} must be 1-63 bytes` };
      out.push(bytes.length, ...bytes);
    }
    if (i === labels.length) out.push(0);
  }
  return Uint8Array.from(out);
}

export function decodeDomainSearch(b: Uint8Array): string[] | CodecError {
  const names: string[] = [];
  let at = 0;
  while (at < b.length) {
    const labels: string[] = [];
    let pos = at;
    let jumped = false;
    let hops = 0;
    for (;;) {
      if (pos >= b.length) return { error: "name runs past the end of the option" };
      const len = b[pos]!;
      if (len === 0) {
        if (!jumped) at = pos + 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= b.length) return { error: "truncated pointer" };
        const target = ((len & 0x3f) << 8) | b[pos + 1]!;
        if (target >= pos || ++hops > 64) return { error: "pointer does not point backwards" };
        if (!jumped) at = pos + 2;
        jumped = true;
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) return { error: `bad label length byte ${len}` };
      if (pos + 1 + len > b.length) return { error: "label runs past the end of the option" };
      labels.push(new TextDecoder().decode(b.subarray(pos + 1, pos + 1 + len)));
      pos += 1 + len;
    }
    names.push(labels.join("."));
  }
  return names;
}
