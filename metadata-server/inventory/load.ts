// Inventory text -> validated Inventory -> ResolvedSite, with every problem located at a file,
// line and column. parseSite is pure (text and templates in); loadSiteFile is the I/O edge.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import jsYaml from "js-yaml";
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
  /** Values the document may hold with every alias expanded (a 10,000-VM site has about 300,000). */
  maxNodes: number;
}

export const DEFAULT_INVENTORY_LIMITS: InventoryLimits = { maxFileBytes: 64 * 1024 * 1024, maxAliasCount: 1000, maxNodes: 20_000_000 };

export interface SiteLoad {
  site?: ResolvedSite;
  inventory?: Inventory;
  issues: InventoryIssue[];
}

/**
 * Two parsers, for two jobs. js-yaml reads a large inventory about five times faster than the
 * `yaml` package, so valid files (the common case, and every reload of a 10,000-VM site) take the
 * fast path. Only when something is wrong is the file parsed again with `yaml`, whose document
 * keeps every node's source position, to put a file, line and column on each problem.
 */
// YAML 1.2 core types plus merge keys (`<<: *anchor`), matching what the `yaml` package reads.
const FAST_SCHEMA = jsYaml.CORE_SCHEMA.extend({ implicit: [(jsYaml as unknown as { types: { merge: jsYaml.Type } }).types.merge] });

export function parseSite(
  text: string, file: string, templates: Readonly<Record<string, string>>, limits: InventoryLimits = DEFAULT_INVENTORY_LIMITS,
): SiteLoad {
  if (Buffer.byteLength(text) > limits.maxFileBytes) {
    return { issues: [{ code: "FILE_TOO_LARGE", path: [], message: `the file is over ${limits.maxFileBytes} bytes`, file, line: 1, column: 1 }] };
  }
  let data: unknown;
  try {
    data = jsYaml.load(text, { schema: FAST_SCHEMA, filename: file });
    if (expandedSize(data, limits.maxNodes) < 0) throw new Error(`the document expands to over ${limits.maxNodes} values through aliases`);
  } catch (fastError) {
    const located = locatedParse(text, file, limits);
    if (located.issues.length) return { issues: located.issues };
    // The two parsers disagree only on exotic input; trust the stricter verdict.
    const mark = (fastError as { mark?: { line: number; column: number } }).mark;
    return { issues: [{ code: "YAML_SYNTAX", path: [], message: (fastError as Error).message.split("\n")[0]!, file, line: (mark?.line ?? 0) + 1, column: (mark?.column ?? 0) + 1 }] };
  }
  const parsed = InventorySchema.safeParse(data ?? {});
  let issues: LocatedIssue[];
  let inventory: Inventory | undefined;
  let site: ResolvedSite | undefined;
  if (!parsed.success) {
    issues = parsed.error.issues.flatMap((i) => fromZod(i, data));
  } else {
    inventory = parsed.data;
    const revision = createHash("sha256").update(text).update("\0").update(JSON.stringify(templates)).digest("hex").slice(0, 16);
    const result = resolveInventory(parsed.data, { templates, revision });
    issues = result.issues;
    site = result.site;
  }
  if (issues.length === 0) return { site, inventory, issues: [] };
  const { doc, lineCounter } = locatedParse(text, file, limits);
  const located = issues.map((i): InventoryIssue => {
    const pos = lineCounter.linePos(nodeOffset(doc, i.path, i.key) ?? 0);
    const { key: _key, ...rest } = i;
    return { ...rest, file, line: pos.line, column: pos.col };
  });
  located.sort((a, b) => a.line! - b.line! || a.column! - b.column!);
  return { ...(inventory ? { inventory } : {}), issues: located };
}

/** The slow, position-keeping parse; its syntax errors are the ones reported to the operator. */
function locatedParse(text: string, file: string, limits: InventoryLimits) {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true, merge: true });
  const issues: InventoryIssue[] = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return {
      code: (e.code === "DUPLICATE_KEY" ? "YAML_DUPLICATE_KEY" : "YAML_SYNTAX") as IssueCode,
      path: [], message: e.message.split("\n")[0]!, file, line: pos.line, column: pos.col,
    };
  });
  if (!issues.length) {
    try {
      doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (err) {
      issues.push({ code: "YAML_SYNTAX", path: [], message: (err as Error).message, file, line: 1, column: 1 });
    }
  }
  return { doc, lineCounter, issues };
}

/**
 * Nodes the data would have with every alias expanded, or -1 past `budget`. js-yaml shares one
 * object per anchor instead of copying it, so an alias bomb costs nothing to load but would make
 * validation walk billions of nodes; this counts them in time linear in the distinct objects.
 */
function expandedSize(root: unknown, budget: number): number {
  const memo = new Map<object, number>();
  const size = (v: unknown): number => {
    if (v === null || typeof v !== "object") return 1;
    const known = memo.get(v);
    if (known !== undefined) return known;
    memo.set(v, 1); // a cycle (not possible from YAML anchors, but cheap to guard) counts once
    let n = 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      n += size(child);
      if (n > budget) break;
    }
    memo.set(v, n);
    return n;
  };
  return size(root) > budget ? -1 : 0;
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
