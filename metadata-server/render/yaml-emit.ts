// A small block-style YAML emitter for the plain data our renderers produce (maps, lists,
// strings, numbers, booleans). It exists for two reasons:
//  - cloud-init reads YAML with PyYAML, a YAML 1.1 parser, where unquoted 52:54:00:12:34:56 is a
//    base-60 integer and `on`/`no` are booleans. Quoting every string that is not unambiguously a
//    word keeps MACs, addresses and names strings in every parser.
//  - Rendering 10,000 VMs must take milliseconds per thousand; a general-purpose YAML library
//    spends most of that on features these documents never use.

export type YamlValue = string | number | boolean | null | undefined | YamlValue[] | { [key: string]: YamlValue };

const PLAIN = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
// YAML 1.1 reads these as booleans or null when unquoted (yes, PyYAML still does).
const YAML11_SPECIAL = new Set(["y", "yes", "n", "no", "on", "off", "true", "false", "null"]);

function scalar(v: string | number | boolean | null): string {
  if (v === null) return "null";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`cannot emit ${v} as YAML`);
    return String(v);
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  if (PLAIN.test(v) && !YAML11_SPECIAL.has(v.toLowerCase())) return v;
  // A JSON string is a valid YAML double-quoted scalar.
  return JSON.stringify(v);
}

function isEmptyCollection(v: YamlValue): boolean {
  return (Array.isArray(v) && v.length === 0) || (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);
}

function emit(v: YamlValue, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (item === undefined) continue;
      if (item !== null && typeof item === "object" && !isEmptyCollection(item)) {
        // "- key: value" with the rest of the mapping aligned under the first key.
        const inner: string[] = [];
        emit(item, indent + "  ", inner);
        out.push(indent + "- " + inner[0]!.slice(indent.length + 2), ...inner.slice(1));
      } else {
        out.push(`${indent}- ${inline(item)}`);
      }
    }
    return;
  }
  if (v !== null && typeof v === "object") {
    for (const [key, value] of Object.entries(v)) {
      if (value === undefined) continue;
      const k = scalar(key);
      if (value !== null && typeof value === "object" && !isEmptyCollection(value)) {
        out.push(`${indent}${k}:`);
        emit(value, Array.isArray(value) ? indent : indent + "  ", out);
      } else {
        out.push(`${indent}${k}: ${inline(value)}`);
      }
    }
    return;
  }
  out.push(indent + inline(v as string | number | boolean | null));
}

function inline(v: YamlValue): string {
  if (Array.isArray(v)) return "[]";
  if (v !== null && typeof v === "object") return "{}";
  return scalar(v as string | number | boolean | null);
}

/** Block YAML text for `value`, ending with a newline. Keys keep their insertion order. */
export function toYaml(value: YamlValue): string {
  const out: string[] = [];
  emit(value, "", out);
  return out.join("\n") + "\n";
}
