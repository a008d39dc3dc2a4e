// IPv6 Router Advertisement / Router Solicitation messages (RFC 4861 4.1, 4.2, 4.6; RFC 8106
// RDNSS and DNSSL). Pure: the ICMPv6 body only; the kernel fills the checksum on raw ICMPv6
// sockets and the IPv6 header (hop limit 255, link-local source) is set by ra socket options.
import { concatBytes, dnsWireNames, macBytes, macText, readU32, writeU32 } from "./bytes.ts";
import { ipv6Bytes, readIpv6 } from "../model/addr.ts";
import { MIN_IPV6_MTU, type RaPlan } from "./plan.ts";

export const ICMPV6_RS = 133;
export const ICMPV6_RA = 134;
export const ND_OPT_SOURCE_LLADDR = 1;
export const ND_OPT_PREFIX_INFO = 3;
export const ND_OPT_MTU = 5;
export const ND_OPT_RDNSS = 25;
export const ND_OPT_DNSSL = 31;
/** The RA's Cur Hop Limit field: what hosts use for their own packets (Linux default 64). */
export const DEFAULT_CUR_HOP_LIMIT = 64;

export interface RaMessage {
  curHopLimit: number;
  managed: boolean;
  other: boolean;
  routerLifetime: number;
  reachableTime: number;
  retransTimer: number;
  sourceMac?: string;
  mtu?: number;
  prefixes: { prefix: string; prefixLength: number; onLink: boolean; autonomous: boolean; validLifetime: number; preferredLifetime: number }[];
  rdnss: { lifetime: number; servers: string[] }[];
  dnssl: { lifetime: number; domains: string[] }[];
}

export type NdDecodeError = { error: "short" | "wrong-type" | "bad-code" | "bad-option" | "bad-field"; detail: string };


/** An option padded to a multiple of 8 bytes; the length byte counts 8-byte units. */
function ndOption(type: number, body: Uint8Array): Uint8Array {
  const total = Math.ceil((body.length + 2) / 8) * 8;
  const b = new Uint8Array(total);
  b[0] = type;
  b[1] = total / 8;
  b.set(body, 2);
  return b;
}


export interface EncodeRaOptions {
  /** The sender's MAC for the source link-layer address option (lets hosts skip a neighbor solicitation). */
  sourceMac?: string;
  curHopLimit?: number;
  /** Final RA on shutdown: router lifetime 0 (RFC 4861 6.2.5). */
  ceasing?: boolean;
}

export function encodeRa(plan: RaPlan, opts: EncodeRaOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(16);
  head[0] = ICMPV6_RA;
  head[4] = opts.curHopLimit ?? DEFAULT_CUR_HOP_LIMIT;
  head[5] = (plan.managed ? 0x80 : 0) | (plan.other ? 0x40 : 0);
  const lifetime = opts.ceasing ? 0 : plan.routerLifetime;
  head[6] = (lifetime >>> 8) & 255;
  head[7] = lifetime & 255;
  parts.push(head);
  if (opts.sourceMac) parts.push(ndOption(ND_OPT_SOURCE_LLADDR, macBytes(opts.sourceMac)));
  // Hosts ignore an MTU below the IPv6 minimum (RFC 4861 6.3.4); never announce one.
  if (plan.mtu !== undefined && plan.mtu >= MIN_IPV6_MTU) {
    const body = new Uint8Array(6);
    writeU32(body, 2, plan.mtu);
    parts.push(ndOption(ND_OPT_MTU, body));
  }
  for (const p of plan.prefixes) {
    const body = new Uint8Array(30);
    body[0] = p.prefixLength;
    body[1] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    writeU32(body, 2, p.validLifetime);
    writeU32(body, 6, p.preferredLifetime);
    body.set(ipv6Bytes(p.prefix), 14);
    parts.push(ndOption(ND_OPT_PREFIX_INFO, body));
  }
  if (plan.rdnss.length) {
    const body = new Uint8Array(6 + 16 * plan.rdnss.length);
    writeU32(body, 2, plan.dnsLifetime);
    plan.rdnss.forEach((s, i) => body.set(ipv6Bytes(s), 6 + 16 * i));
    parts.push(ndOption(ND_OPT_RDNSS, body));
  }
  if (plan.dnssl.length) {
    const names = dnsWireNames(plan.dnssl);
    const body = new Uint8Array(6 + names.length);
    writeU32(body, 2, plan.dnsLifetime);
    body.set(names, 6);
    parts.push(ndOption(ND_OPT_DNSSL, body));
  }
  return concatBytes(parts);
}

function walkOptions(b: Uint8Array, from: number, visit: (type: number, body: Uint8Array) => NdDecodeError | undefined): NdDecodeError | undefined {
  let at = from;
  while (at < b.length) {
    if (at + 2 > b.length) return { error: "bad-option", detail: "truncated option header" };
    const len = b[at + 1]! * 8;
    // RFC 4861 4.6: a zero length option must make the whole message be discarded.
    if (len === 0) return { error: "bad-option", detail: `option ${b[at]} has length 0` };
    if (at + len > b.length) return { error: "bad-option", detail: `option ${b[at]} runs past the end` };
    const err = visit(b[at]!, b.subarray(at + 2, at + len));
    if (err) return err;
    at += len;
  }
  return undefined;
}

export function decodeRa(b: Uint8Array): RaMessage | NdDecodeError {
  if (b.length < 16) return { error: "short", detail: `${b.length} bytes` };
  if (b[0] !== ICMPV6_RA) return { error: "wrong-type", detail: `type ${b[0]}` };
  if (b[1] !== 0) return { error: "bad-code", detail: `code ${b[1]}` };
  const ra: RaMessage = {
    curHopLimit: b[4]!, managed: (b[5]! & 0x80) !== 0, other: (b[5]! & 0x40) !== 0,
    routerLifetime: (b[6]! << 8) | b[7]!, reachableTime: readU32(b, 8), retransTimer: readU32(b, 12),
    prefixes: [], rdnss: [], dnssl: [],
  };
  const err = walkOptions(b, 16, (type, body) => {
    switch (type) {
      case ND_OPT_SOURCE_LLADDR:
        ra.sourceMac = macText(body.subarray(0, 6));
        return undefined;
      case ND_OPT_MTU:
        if (body.length !== 6) return { error: "bad-field", detail: "MTU option length" };
        ra.mtu = readU32(body, 2);
        return undefined;
      case ND_OPT_PREFIX_INFO:
        if (body.length !== 30) return { error: "bad-field", detail: "prefix option length" };
        ra.prefixes.push({
          prefixLength: body[0]!, onLink: (body[1]! & 0x80) !== 0, autonomous: (body[1]! & 0x40) !== 0,
          validLifetime: readU32(body, 2), preferredLifetime: readU32(body, 6), prefix: readIpv6(body, 14),
        });
        return undefined;
      case ND_OPT_RDNSS: {
        if (body.length < 22 || (body.length - 6) % 16 !== 0) return { error: "bad-field", detail: "RDNSS length" };
        const servers: string[] = [];
        for (let i = 6; i < body.length; i += 16) servers.push(readIpv6(body, i));
        ra.rdnss.push({ lifetime: readU32(body, 2), servers });
        return undefined;
      }
      case ND_OPT_DNSSL: {
        if (body.length < 6) return { error: "bad-field", detail: "DNSSL length" };
        const domains: string[] = [];
        let at = 6;
        let labels: string[] = [];
        while (at < body.length) {
          const len = body[at]!;
          if (len === 0) {
            if (labels.length) domains.push(labels.join("."));
            labels = [];
            at++;
            continue;
          }
          if (len > 63 || at + 1 + len > body.length) return { error: "bad-field", detail: "DNSSL label" };
          labels.push(new TextDecoder().decode(body.subarray(at + 1, at + 1 + len)));
          at += 1 + len;
        }
        if (labels.length) return { error: "bad-field", detail: "DNSSL name not terminated" };
        ra.dnssl.push({ lifetime: readU32(body, 2), domains });
        return undefined;
      }
      default:
        return undefined; // RFC 4861 4.6: unknown options are skipped
    }
  });
  return err ?? ra;
}

export interface RsMessage {
  sourceMac?: string;
}

/** Validates a Router Solicitation (RFC 4861 6.1.1, the parts visible in the ICMPv6 body). */
export function decodeRs(b: Uint8Array): RsMessage | NdDecodeError {
  if (b.length < 8) return { error: "short", detail: `${b.length} bytes` };
  if (b[0] !== ICMPV6_RS) return { error: "wrong-type", detail: `type ${b[0]}` };
  if (b[1] !== 0) return { error: "bad-code", detail: `code ${b[1]}` };
  const rs: RsMessage = {};
  const err = walkOptions(b, 8, (type, body) => {
    if (type === ND_OPT_SOURCE_LLADDR && body.length >= 6) {
      rs.sourceMac = macText(body.subarray(0, 6));
    }
    return undefined;
  });
  return err ?? rs;
}

export function encodeRs(sourceMac?: string): Uint8Array {
  const head = new Uint8Array(8);
  head[0] = ICMPV6_RS;
  if (!sourceMac) return head;
  const opt = ndOption(ND_OPT_SOURCE_LLADDR, macBytes(sourceMac));
  const out = new Uint8Array(8 + opt.length);
  out.set(head, 0);
  out.set(opt, 8);
  return out;
}
