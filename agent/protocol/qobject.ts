// The value model of the wire, as QEMU's QObject layer sees it, and its exact serialisation.
//
// JSON integers and JSON floats are different types on this wire ("1" is an integer argument, "1.0" and
// "1e3" are not), so floats are wrapped in QFloat. Integers are JS numbers while they are safe, bigints
// beyond that (int64/uint64 range), exactly as QEMU keeps them as QNUM_I64/QNUM_U64.
// Objects parsed from the wire are Maps (insertion order kept, "__proto__" harmless); values produced by
// commands may be plain objects. Both are written in QDict iteration order (see qdictKeyOrder) so that
// our bytes match qemu-ga's bytes.

export class QFloat {
  constructor(readonly value: number) {}
}

export type QValue = null | boolean | string | number | bigint | QFloat | QValue[] | QDict;
export type QDict = Map<string, QValue>;

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;

export function isQDict(v: unknown): v is QDict {
  return v instanceof Map;
}

/** QEMU's QDict hashes keys with tdb_hash into 512 buckets; iteration walks buckets in order. */
const QDICT_BUCKETS = 512;
const bucketCache = new Map<string, number>();
const utf8 = new TextEncoder();

export function qdictBucket(key: string): number {
  let cached = bucketCache.get(key);
  if (cached !== undefined) return cached;
  const bytes = utf8.encode(key);
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    value = (value + ((bytes[i]! << ((i * 5) % 24)) >>> 0)) >>> 0;
  }
  const hash = (Math.imul(1103515243, value) + 12345) >>> 0;
  cached = hash % QDICT_BUCKETS;
  if (bucketCache.size < 4096) bucketCache.set(key, cached);
  return cached;
}

/**
 * Keys in the order QEMU iterates a QDict built by inserting `keys` in the given order: by bucket, and
 * within one bucket the most recently inserted first (entries are inserted at the head of the bucket list).
 */
export function qdictKeyOrder(keys: readonly string[]): string[] {
  const decorated = keys.map((k, i) => ({ k, b: qdictBucket(k), i }));
  decorated.sort((a, b) => a.b - b.b || b.i - a.i);
  return decorated.map((d) => d.k);
}

/** C's printf("%.17g"), which QEMU uses for every double it writes. */
export function formatDouble17g(x: number): string {
  if (Number.isNaN(x)) return x < 0 ? "-nan" : "nan";
  if (!Number.isFinite(x)) return x < 0 ? "-inf" : "inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mant, expStr] = x.toExponential(16).split("e") as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 17) {
    let m = mant.includes(".") ? mant.replace(/0+$/, "").replace(/\.$/, "") : mant;
    const sign = exp < 0 ? "-" : "+";
    const abs = Math.abs(exp);
    m += `e${sign}${abs < 10 ? "0" : ""}${abs}`;
    return m;
  }
  let fixed = x.toFixed(Math.max(0, 16 - exp));
  if (fixed.includes(".")) fixed = fixed.replace(/0+$/, "").replace(/\.$/, "");
  return fixed;
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, "0");
}

/** QEMU's JSON string writer: ASCII printable kept, short escapes, everything else as \uXXXX (uppercase). */
export function quoteString(s: string): string {
  // Fast path: plain printable ASCII without quote or backslash.
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c) {
      plain = false;
      break;
    }
  }
  if (plain) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += "\\\\"; break;
      case 0x08: out += "\\b"; break;
      case 0x0c: out += "\\f"; break;
      case 0x0a: out += "\\n"; break;
      case 0x0d: out += "\\r"; break;
      case 0x09: out += "\\t"; break;
      default:
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            out += `\\u${hex4(c)}\\u${hex4(d)}`;
            i++;
            break;
          }
        }
        if (c >= 0xd800 && c <= 0xdfff) out += "\\uFFFD"; // lone surrogate: not encodable, as QEMU's invalid UTF-8
        else if (c < 0x20 || c >= 0x7f) out += `\\u${hex4(c)}`;
        else out += s[i];
    }
  }
  return out + '"';
}

// Key order depends only on the set of keys and their insertion order, and replies repeat the same few
// shapes (an interface, an address, a statistics block), so orders are cached by key list.
const orderCache = new Map<string, string[]>();
const ORDER_CACHE_MAX = 2048;

function orderedKeys(keys: string[]): string[] {
  const id = keys.join("\u0000");
  let order = orderCache.get(id);
  if (!order) {
    order = qdictKeyOrder(keys);
    if (orderCache.size < ORDER_CACHE_MAX) orderCache.set(id, order);
  }
  return order;
}

/** Serialise like qobject_to_json(): `{"a": 1, "b": [1, 2]}`, keys in QDict order, undefined members omitted. */
export function toQemuJson(v: unknown): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean": return v ? "true" : "false";
    case "string": return quoteString(v);
    case "bigint": return v.toString();
    case "number":
      if (Number.isSafeInteger(v)) return Object.is(v, -0) ? "0" : String(v);
      return Number.isInteger(v) ? v.toFixed(0) : formatDouble17g(v);
    case "object": break;
    default: throw new TypeError(`cannot serialise ${typeof v}`);
  }
  if (v instanceof QFloat) return formatDouble17g(v.value);
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    let out = "[";
    for (let i = 0; i < v.length; i++) out += (i ? ", " : "") + toQemuJson(v[i]);
    return out + "]";
  }
  if (v instanceof Map) {
    const m = v as Map<string, unknown>;
    const keys: string[] = [];
    for (const [k, val] of m) if (val !== undefined) keys.push(k);
    if (keys.length === 0) return "{}";
    let out = "{";
    let first = true;
    for (const k of orderedKeys(keys)) {
      out += `${first ? "" : ", "}${quoteString(k)}: ${toQemuJson(m.get(k))}`;
      first = false;
    }
    return out + "}";
  }
  const o = v as Record<string, unknown>;
  const keys: string[] = [];
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined) keys.push(k);
  if (keys.length === 0) return "{}";
  let out = "{";
  let first = true;
  for (const k of orderedKeys(keys)) {
    out += `${first ? "" : ", "}${quoteString(k)}: ${toQemuJson(o[k])}`;
    first = false;
  }
  return out + "}";
}
