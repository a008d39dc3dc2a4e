// Inventory text -> validated Inventory -> ResolvedSite, with every problem located at a file,
// line and column. parseSite is pure (text and templates in); loadSiteFile is the I/O edge.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { z } from "zod";
import { resolveInventory } from "../model/resolve.ts";
import type { ResolvedSite } from "../model/types.ts";
import { InventorySchema, type Inventory } from "./schema.ts";
import type { InventoryIssue, IssueCode, IssuePath } from "./issues.ts";
import { loadTemplates } from "./templates-dir.ts";

export interface InventoryLimits {
  /** Largest inventory file accepted; a 10,000-VM site is about 5 MiB. */
  maxFileBytes: number;
  /** YAML alias expansions allowed, against "billion laughs" documents. */
  maxAliasCount: number;
}

export const DEFAULT_INVENTORY_LIMITS: InventoryLimits = { maxFileBytes: 64 * 1024 * 1024, maxAliasCount: 1000 };

export interface SiteLoad {
  site?: ResolvedSite;
  inventory?: Inventory;
  issues: InventoryIssue[];
}

export function parseSite(
  text: string, file: string, templates: Readonly<Record<string, string>>, limits: InventoryLimits = DEFAULT_INVENTORY_LIMITS,
): SiteLoad {
  if (Buffer.byteLength(text) > limits.maxFileBytes) {
    return { issues: [{ code: "FILE_TOO_LARGE", path: [], message: `the file is over ${limits.maxFileBytes} bytes`, file, line: 1, column: 1 }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true, merge: true });
  const locate = (offset: number | undefined) => {
    const pos = lineCounter.linePos(offset ?? 0);
    return { file, line: pos.line, column: pos.col };
  };
  if (doc.errors.length) {
    return {
      issues: doc.errors.map((e) => ({
        code: (e.code === "DUPLICATE_KEY" ? "YAML_DUPLICATE_KEY" : "YAML_SYNTAX") as IssueCode,
        path: [],
        message: e.message.split("\n")[0]!,
        ...locate(e.pos[0]),
      })),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: limits.maxAliasCount });
  } catch (err) {
    return { issues: [{ code: "YAML_SYNTAX", path: [], message: (err as Error).message, file, line: 1, column: 1 }] };
  }
  const parsed = InventorySchema.safeParse(data ?? {});
  const at = (issue: Omit<InventoryIssue, "file" | "line" | "column">, key?: string): InventoryIssue => ({
    ...issue,
    ...locate(nodeOffset(doc, issue.path, key)),
  });
  if (!parsed.success) {
    return { issues: parsed.error.issues.flatMap((i) => fromZod(i, data)).map((i) => at(i, i.key)) };
  }
  const revision = createHash("sha256").update(text).update("\0").update(JSON.stringify(templates)).digest("hex").slice(0, 16);
  const result = resolveInventory(parsed.data, { templates, revision });
  return {
    ...(result.site ? { site: result.site } : {}),
    inventory: parsed.data,
    issues: result.issues.map((i) => at(i)).sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)),
  };
}

export interface LoadOptions {
  templatesDir?: string;
  limits?: InventoryLimits;
}

/** Reads, validates and resolves an inventory file. Never throws for a bad file: it returns issues. */
export async function loadSiteFile(path: string, opts: LoadOptions = {}): Promise<SiteLoad> {
  const limits = opts.limits ?? DEFAULT_INVENTORY_LIMITS;
  let text: string;
  try {
    const st = await stat(path);
    if (st.size > limits.maxFileBytes) {
      return { issues: [{ code: "FILE_TOO_LARGE", path: [], message: `the file is ${st.size} bytes, over the ${limits.maxFileBytes}-byte limit`, file: path, line: 1, column: 1 }] };
    }
    text = await readFile(path, "utf8");
  } catch (err) {
    return { issues: [{ code: "FILE_UNREADABLE", path: [], message: (err as Error).message, file: path, line: 1, column: 1 }] };
  }
  const templates = await loadTemplates(opts.templatesDir);
  return parseSite(text, path, templates, limits);
}

// ------------------------------------------------------------------------------------- helpers

type LocatedIssue = Omit<InventoryIssue, "file" | "line" | "column"> & { key?: string };

/** Turns zod's issues into ours: plain words, one issue per unknown key, the best union branch. */
function fromZod(issue: z.core.$ZodIssue, data: unknown): LocatedIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => ({
        code: "UNKNOWN_FIELD" as const, path: [...path, key], key,
        message: `unknown field ${JSON.stringify(key)}${suggest(key, issue)}`,
      }));
    case "invalid_type": {
      const missing = valueAt(data, path) === undefined;
      return [{
        code: missing ? "REQUIRED" : "TYPE", path,
        message: missing
          ? `${String(path[path.length - 1] ?? "value")} is required`
          // Schemas with their own wording ("must be a whole number of bytes") keep it.
          : `${issue.message.startsWith("Invalid input") ? `must be ${article(issue.expected)}` : issue.message}, not ${describe(valueAt(data, path))}`,
      }];
    }
    case "invalid_union": {
      // Report the branch that got furthest: the one whose problems are deepest and fewest.
      const branches = issue.errors.filter((b) => b.length > 0);
      const best = branches.sort((a, b) => depth(b) - depth(a) || a.length - b.length)[0];
      if (best && depth(best) > 0) return best.flatMap((i) => fromZod({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue, data));
      return [{ code: "INVALID_VALUE", path, message: `has none of the accepted forms (${unionHint(path)})` }];
    }
    case "invalid_value":
      return [{ code: "INVALID_VALUE", path, message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, not ${JSON.stringify(valueAt(data, path))}` }];
    case "too_small":
    case "too_big":
      return [{ code: "INVALID_VALUE", path, message: `${issue.message.replace(/^Too (small|big): expected /, "must be ")}` }];
    default:
      return [{ code: "INVALID_VALUE", path, message: issue.message }];
  }
}

const depth = (issues: readonly z.core.$ZodIssue[]) => Math.max(...issues.map((i) => i.path.length));

function unionHint(path: (string | number)[]): string {
  const last = path[path.length - 1];
  if (last === "ipv4" || last === "ipv6") return `"none", or a mapping with mode and/or address`;
  if (last === "userData") return `{raw: TEXT} or {template: NAME, vars: {...}}`;
  return "see docs/inventory.md";
}

const KNOWN_FIELDS = [
  "version", "site", "macPools", "networks", "hosts", "vms", "name", "type", "vlan", "mtu", "mtuPolicy", "encapsulation", "underlay",
  "ipv4", "ipv6", "dns", "routes", "subnet", "gateway", "dhcp", "leaseTime", "dynamicRange", "allocationRange", "prefix", "mode", "ra",
  "servers", "search", "to", "via", "metric", "start", "end", "links", "members", "parent", "tunnelLink", "id", "hostname", "host",
  "sshKeys", "userData", "nics", "bonds", "vlans", "defaultRoute", "qgaSocket", "network", "mac", "macPool", "address", "interfaces",
  "miimon", "link", "raw", "template", "vars", "domain", "underlayMtu", "description", "family",
];

function suggest(key: string, _issue: unknown): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of KNOWN_FIELDS) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) { best = k; bestDistance = d; }
  }
  return best ? ` (did you mean ${JSON.stringify(best)}?)` : "";
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function article(expected: string): string {
  const words: Record<string, string> = { object: "a mapping", array: "a list", string: "a string", number: "a number", int: "a whole number", boolean: "true or false" };
  return words[expected] ?? expected;
}

/** Source offset of the deepest node that exists on the path (or of the key itself). */
function nodeOffset(doc: Document, path: IssuePath, key?: string): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  const parts = key !== undefined ? path.slice(0, -1) : path;
  for (const part of parts) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === part);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
      const valueOffset = (pair.value as Node | null)?.range?.[0];
      // Point at the value for scalars, at the key for collections (the key names the field).
      if (valueOffset !== undefined && !isMap(pair.value) && !isSeq(pair.value)) offset = valueOffset;
    } else if (isSeq(node) && typeof part === "number") {
      const item = node.items[part] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
    if (pair) offset = (pair.key as Node).range?.[0] ?? offset;
  }
  return offset;
}
