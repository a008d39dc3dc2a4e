// A small QAPI type language for command arguments and returns, with:
//  - an input visitor that reproduces QEMU's qobject-input-visitor: same checks, same order, same
//    error strings ("Parameter 'x' is missing", "Invalid parameter type for 'arg[0]', expected: string", ...);
//  - a derivation to zod schemas (zod.ts), so other packages validate the same shapes without a second copy.
import { QFloat, INT64_MIN, INT64_MAX, UINT64_MAX, isQDict, qdictKeyOrder } from "./qobject.ts";
import type { QValue, QDict } from "./qobject.ts";

export type QType =
  | { kind: "int" } // int64
  | { kind: "uint64" }
  | { kind: "number" }
  | { kind: "bool" }
  | { kind: "str" }
  | { kind: "any" }
  | { kind: "null" }
  | { kind: "enum"; name: string; values: readonly string[] }
  | { kind: "list"; of: QType }
  | { kind: "struct"; name: string; members: readonly QMember[] }
  | { kind: "alternate"; name: string; int?: QType; str?: QType };

export interface QMember {
  name: string;
  type: QType;
  optional: boolean;
}

export const q = {
  int: { kind: "int" } as const,
  uint64: { kind: "uint64" } as const,
  number: { kind: "number" } as const,
  bool: { kind: "bool" } as const,
  str: { kind: "str" } as const,
  any: { kind: "any" } as const,
  enum: (name: string, values: readonly string[]): QType => ({ kind: "enum", name, values }),
  list: (of: QType): QType => ({ kind: "list", of }),
  /** Members in schema order; a leading '*' marks an optional member, as in QAPI schema files. */
  struct: (name: string, members: Record<string, QType>): QType & { kind: "struct" } => ({
    kind: "struct",
    name,
    members: Object.entries(members).map(([k, type]) => ({
      name: k.startsWith("*") ? k.slice(1) : k,
      optional: k.startsWith("*"),
      type,
    })),
  }),
  alternate: (name: string, branches: { int?: QType; str?: QType }): QType => ({ kind: "alternate", name, ...branches }),
};

export class QapiArgumentError extends Error {}

/**
 * Glib's GHashTable as QEMU's visitor uses it to remember which arguments were not consumed: the key it
 * reports as unexpected is the first left in table-slot order, so we place keys the way glib does
 * (g_str_hash, index = hash*11 mod prime, quadratic probing). Tables growing past 8 entries are re-placed
 * in slot order, which approximates glib's in-place rehash.
 */
class GlibKeySet {
  private static readonly PRIMES = [1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381];
  private shift = 3;
  private slots: (string | undefined)[] = new Array(8);
  private removed = new Set<string>();
  private count = 0;

  static strHash(key: string): number {
    let h = 5381;
    for (const b of Buffer.from(key, "utf8")) {
      const signed = b > 127 ? b - 256 : b;
      h = (Math.imul(h, 33) + signed) >>> 0;
    }
    return h;
  }

  add(key: string): void {
    this.place(key);
    this.count++;
    const size = this.slots.length;
    if (size <= this.count + Math.floor(this.count / 16)) {
      let want = Math.floor(this.count * 1.333);
      let shift = 0;
      while (want) { want >>= 1; shift++; }
      this.shift = Math.max(3, shift);
      const old = this.slots.filter((k): k is string => k !== undefined);
      this.slots = new Array(1 << this.shift);
      for (const k of old) this.place(k);
    }
  }

  private place(key: string): void {
    let hash = GlibKeySet.strHash(key);
    if (hash < 2) hash = 2;
    const mod = GlibKeySet.PRIMES[this.shift] ?? 16381;
    const mask = this.slots.length - 1;
    let idx = (Math.imul(hash, 11) >>> 0) % mod;
    let step = 0;
    while (this.slots[idx] !== undefined) {
      if (this.slots[idx] === key) return;
      step++;
      idx = (idx + step) & mask;
    }
    this.slots[idx] = key;
  }

  delete(key: string): void { this.removed.add(key); }

  first(): string | undefined {
    for (const k of this.slots) if (k !== undefined && !this.removed.has(k)) return k;
    return undefined;
  }
}

type Frame =
  | { kind: "dict"; name: string | null; obj: QDict; unvisited: GlibKeySet }
  | { kind: "list"; name: string | null; items: QValue[]; index: number };

/** Visits a QAPI struct over a parsed arguments dict, returning plain JS values or throwing QapiArgumentError. */
export class QapiInputVisitor {
  private stack: Frame[] = [];

  /** `args` is the request's "arguments" (an empty dict when absent). */
  visitArguments(type: QType & { kind: "struct" }, args: QDict): Record<string, unknown> {
    this.stack = [];
    return this.visitStructBody(null, args, type);
  }

  private fullName(name: string | null): string {
    // Mirrors QEMU's full_name_nth(): walk the stack from the innermost frame outwards.
    let out = "";
    let cur = name;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const so = this.stack[i]!;
      if (so.kind === "dict") out = "." + (cur ?? "<anonymous>") + out;
      else out = `[${so.index}]` + out;
      cur = so.name;
    }
    if (cur !== null) return cur + out;
    if (out.startsWith(".")) return out.slice(1);
    return out || "<anonymous>";
  }

  private tryGet(name: string | null, consume: boolean): QValue | undefined {
    const tos = this.stack[this.stack.length - 1];
    if (!tos) throw new Error("visitor stack empty");
    if (tos.kind === "dict") {
      if (name === null || !tos.obj.has(name)) return undefined;
      if (consume) tos.unvisited.delete(name);
      return tos.obj.get(name);
    }
    return tos.items[tos.index];
  }

  private get(name: string | null, consume: boolean): QValue {
    const v = this.tryGet(name, consume);
    if (v === undefined) throw new QapiArgumentError(`Parameter '${this.fullName(name)}' is missing`);
    return v;
  }

  private typeError(name: string | null, expected: string): never {
    throw new QapiArgumentError(`Invalid parameter type for '${this.fullName(name)}', expected: ${expected}`);
  }

  private visitStructBody(name: string | null, obj: QDict, type: QType & { kind: "struct" }): Record<string, unknown> {
    const unvisited = new GlibKeySet();
    for (const k of qdictKeyOrder([...obj.keys()])) unvisited.add(k);
    this.stack.push({ kind: "dict", name, obj, unvisited });
    const out: Record<string, unknown> = {};
    for (const m of type.members) {
      if (m.optional && !obj.has(m.name)) continue;
      out[m.name] = this.visit(m.name, m.type);
    }
    const extra = unvisited.first();
    if (extra !== undefined) throw new QapiArgumentError(`Parameter '${this.fullName(extra)}' is unexpected`);
    this.stack.pop();
    return out;
  }

  private visit(name: string | null, type: QType): unknown {
    switch (type.kind) {
      case "int": {
        const v = this.get(name, true);
        const n = asInt64(v);
        if (n === undefined) this.typeError(name, "integer");
        return n;
      }
      case "uint64": {
        const v = this.get(name, true);
        const n = asUint64(v);
        if (n === undefined) throw new QapiArgumentError(`Parameter '${this.fullName(name)}' expects uint64`);
        return n;
      }
      case "number": {
        const v = this.get(name, true);
        if (typeof v === "number") return v;
        if (typeof v === "bigint") return Number(v);
        if (v instanceof QFloat) return v.value;
        return this.typeError(name, "number");
      }
      case "bool": {
        const v = this.get(name, true);
        if (typeof v !== "boolean") this.typeError(name, "boolean");
        return v;
      }
      case "str": {
        const v = this.get(name, true);
        if (typeof v !== "string") this.typeError(name, "string");
        return v;
      }
      case "null": {
        const v = this.get(name, true);
        if (v !== null) this.typeError(name, "null");
        return null;
      }
      case "any":
        return this.get(name, true);
      case "enum": {
        const v = this.get(name, true);
        if (typeof v !== "string") this.typeError(name, "string");
        if (!type.values.includes(v)) {
          throw new QapiArgumentError(`Parameter '${this.fullName(name)}' does not accept value '${v}'`);
        }
        return v;
      }
      case "list": {
        const v = this.get(name, true);
        if (!Array.isArray(v)) return this.typeError(name, "array");
        const frame: Frame = { kind: "list", name, items: v, index: 0 };
        this.stack.push(frame);
        const out: unknown[] = [];
        for (; frame.index < v.length; frame.index++) out.push(this.visit(null, type.of));
        this.stack.pop();
        return out;
      }
      case "struct": {
        const v = this.get(name, true);
        if (!isQDict(v)) return this.typeError(name, "object");
        return this.visitStructBody(name, v, type);
      }
      case "alternate": {
        const v = this.get(name, false);
        if ((typeof v === "number" || typeof v === "bigint" || v instanceof QFloat) && type.int) return this.visit(name, type.int);
        if (typeof v === "string" && type.str) return this.visit(name, type.str);
        // QEMU names the alternate's type here, and the member without its path.
        throw new QapiArgumentError(`Invalid parameter type for '${name ?? "null"}', expected: ${type.name}`);
      }
    }
  }
}

export function asInt64(v: QValue | undefined): number | bigint | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return v >= INT64_MIN && v <= INT64_MAX ? v : undefined;
  return undefined;
}

function asUint64(v: QValue): number | bigint | undefined {
  if (typeof v === "number") return v >= 0 ? v : BigInt(v) + 2n ** 64n; // negative values wrap, as QEMU's do
  if (typeof v === "bigint") {
    if (v >= 0n && v <= UINT64_MAX) return v;
    if (v >= INT64_MIN && v < 0n) return v + 2n ** 64n;
  }
  return undefined;
}
