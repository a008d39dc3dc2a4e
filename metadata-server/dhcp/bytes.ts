// Byte-level helpers the DHCPv4, DHCPv6 and router-advertisement codecs share: big-endian
// integers, concatenation, MAC text, and DNS names in uncompressed wire form (RFC 1035 3.1).

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 255;
  b[at + 1] = (v >>> 16) & 255;
  b[at + 2] = (v >>> 8) & 255;
  b[at + 3] = v & 255;
}

export function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const HEX_OCTETS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase, colon-separated hex of the bytes (a MAC when there are six). Runs once per DHCP request. */
export function macText(b: Uint8Array): string {
  if (b.length === 0) return "";
  let text = HEX_OCTETS[b[0]!]!;
  for (let i = 1; i < b.length; i++) text += `:${HEX_OCTETS[b[i]!]!}`;
  return text;
}

/** The bytes of a MAC written with ':' or '-' between octets. */
export function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(/[:-]/), (h) => parseInt(h, 16));
}

/** Domain names as uncompressed labels, each ended by the root label (DNSSL, DHCPv6 domain list). */
export function dnsWireNames(domains: readonly string[]): Uint8Array {
  const out: number[] = [];
  const encoder = new TextEncoder();
  for (const d of domains) {
    for (const label of d.replace(/\.$/, "").split(".")) {
      if (!label) continue;
      const bytes = encoder.encode(label);
      out.push(bytes.length, ...bytes);
    }
    out.push(0);
  }
  return Uint8Array.from(out);
}
