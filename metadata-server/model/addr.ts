// Address arithmetic for IPv4, IPv6 and MACs. Pure and allocation-light: IPv4 as uint32 numbers,
// IPv6 as bigints, so range checks and allocation are integer comparisons rather than string work.

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** Network address (host bits cleared). */
  base: bigint;
  prefixLength: number;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number | undefined {
  const m = IPV4_RE.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    // Leading zeros are ambiguous (octal in some parsers), so they are refused.
    if (part.length > 1 && part.startsWith("0")) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

export function parseIpv6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45 || text.includes("%")) return undefined;
  let head = text;
  let tailV4: number | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) !== -1) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const groups: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      groups.push(parseInt(g, 16));
    }
    return groups;
  };
  const left = parseGroups(halves[0]!);
  const right = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...left, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | BigInt(tailV4);
  return value;
}

/** RFC 5952 canonical text: lowercase, no leading zeros, the longest run of 2+ zero groups as "::". */
export function formatIpv6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** The 16 network-order bytes of an IPv6 address given as text (all zeros when it is not one). */
export function ipv6Bytes(text: string): Uint8Array {
  const v = parseIpv6(text) ?? 0n;
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = Number((v >> BigInt((15 - i) * 8)) & 0xffn);
  return b;
}

/** The IPv6 address in the 16 bytes of `b` starting at `at`, as canonical text. */
export function readIpv6(b: Uint8Array, at: number): string {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(b[at + i]!);
  return formatIpv6(v);
}

export function parseIp(text: string): { family: Family; value: bigint } | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: BigInt(v4) };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

export function formatIp(family: Family, value: bigint): string {
  return family === 4 ? formatIpv4(Number(value)) : formatIpv6(value);
}

/** Canonical text of an address (lowercase, compressed), or undefined when it is not one. */
export function canonicalIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip && formatIp(ip.family, ip.value);
}

const bits = (family: Family) => (family === 4 ? 32 : 128);

export function parseCidr(text: string): Cidr | { error: string } {
  const slash = text.indexOf("/");
  if (slash < 0) return { error: "is not in CIDR form (address/prefix-length)" };
  const ip = parseIp(text.slice(0, slash));
  if (!ip) return { error: "has an invalid address" };
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return { error: "has an invalid prefix length" };
  const prefixLength = Number(lenText);
  if (prefixLength > bits(ip.family)) return { error: `has a prefix length over ${bits(ip.family)}` };
  const base = ip.value & prefixMask(ip.family, prefixLength);
  if (base !== ip.value) return { error: `has host bits set (the network is ${formatIp(ip.family, base)}/${prefixLength})` };
  return { family: ip.family, base, prefixLength };
}

export function prefixMask(family: Family, prefixLength: number): bigint {
  const total = bits(family);
  const all = (1n << BigInt(total)) - 1n;
  return (all << BigInt(total - prefixLength)) & all;
}

export function cidrText(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.prefixLength}`;
}

export function netmaskOf(prefixLength: number): string {
  return formatIpv4(Number(prefixMask(4, prefixLength)));
}

export function cidrContains(c: Cidr, ip: { family: Family; value: bigint }): boolean {
  return c.family === ip.family && (ip.value & prefixMask(c.family, c.prefixLength)) === c.base;
}

/** Last address of the block (the IPv4 broadcast address). */
export function cidrLast(c: Cidr): bigint {
  return c.base | (~prefixMask(c.family, c.prefixLength) & ((1n << BigInt(bits(c.family))) - 1n));
}

const MAC_RE = /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/;

export function parseMac(text: string): bigint | undefined {
  if (!MAC_RE.test(text)) return undefined;
  return BigInt("0x" + text.replace(/[:-]/g, ""));
}

export function formatMac(value: bigint): string {
  const hex = value.toString(16).padStart(12, "0");
  return hex.match(/../g)!.join(":");
}

/** A unicast MAC has the multicast bit (bit 0 of the first octet) clear. */
export function isUnicastMac(value: bigint): boolean {
  return ((value >> 40n) & 1n) === 0n;
}

/**
 * The modified EUI-64 address (RFC 4291 appendix A) a Linux guest builds from its MAC for SLAAC by
 * default (addr_gen_mode eui64), so the model can predict the address before the guest reports it.
 */
export function eui64Address(prefix: Cidr, mac: bigint): bigint {
  const upper = (mac >> 24n) & 0xffffffn;
  const lower = mac & 0xffffffn;
  let iid = (upper << 40n) | (0xfffen << 24n) | lower;
  iid ^= 0x0200000000000000n; // flip the universal/local bit
  return prefix.base | iid;
}

/** FNV-1a 32-bit: a small, stable hash for deterministic allocation (not for security). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
