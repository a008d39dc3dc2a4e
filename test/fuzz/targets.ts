// Fuzz targets: what hostile input may reach (a guest's bytes on the QGA channel, a datagram on
// the link, an inventory file), each as a fast-check property. One list, run two ways: a short
// seed-fixed pass in CI (test/unit/fuzz.test.ts) and as many cases as anyone wants from
// `npm run bench -- fuzz` (bench/fuzz.bench.ts), so both exercise the same code.
//
// A target fails when its code throws (anything: the decoders document that they return their
// errors, never throw them) or breaks its contract: framing gives the same messages whatever the
// chunk boundaries, the DHCP and ND decoders return a value or their documented error shape, the
// inventory loader returns a site or issues, every issue located at file:line:column.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { JsonMessageStream, toQemuJson, type FramedMessage } from "../../agent/protocol/index.ts";
import { buildDhcpPlan } from "../../metadata-server/dhcp/plan.ts";
import { decodeDhcp, MessageType } from "../../metadata-server/dhcp/packet.ts";
import { decodeDhcp6, duidLl, handleDhcp6, Msg6, Opt6, option6, encodeDhcp6, type Dhcp6Context } from "../../metadata-server/dhcp/dhcpv6.ts";
import { decodeRa, decodeRs, encodeRa, encodeRs } from "../../metadata-server/dhcp/ra.ts";
import { parseSite } from "../../metadata-server/inventory/load.ts";
import { loadTemplates } from "../../metadata-server/inventory/templates-dir.ts";
import { clientPacket } from "../unit/dhcp/client-packets.ts";
import { site } from "../unit/dhcp/fixtures.ts";

export interface FuzzTarget {
  name: string;
  /** The source file under test. */
  covers: string;
  /** A fresh property each run (any: each target has its own argument tuple). */
  property: () => fc.IProperty<any>;
}

// ------------------------------------------------------------------------- QGA framing (agent)

/** Feeds `whole` cut at the given offsets (taken modulo its length + 1); returns the messages and the cut points. */
export function feedInChunks(stream: JsonMessageStream, whole: Buffer, cuts: readonly number[]): { messages: FramedMessage[]; points: number[] } {
  const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
  const messages: FramedMessage[] = [];
  let prev = 0;
  for (const p of [...points, whole.length]) {
    messages.push(...stream.feed(whole.subarray(prev, p)));
    prev = p;
  }
  return { messages, points };
}

const descs = (ms: FramedMessage[]): string[] => ms.map((m) => (m.ok ? `ok:${toQemuJson(m.value)}` : `err:${m.desc}`));

/** Pieces a hostile or broken guest channel carries: JSON, fragments of it, 0xFF resyncs, noise. */
const framingPiece = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify({ execute: "guest-ping", arguments: v }), "utf8")),
  fc.constantFrom("{", "}", "[", "]", '"', "\\", "'", ",", ":", " ", "\n", '{"execute"', '"\\u', "\\ud800", "1e", "-", "tru", "null", "0x")
    .map((s) => Buffer.from(s, "latin1")),
  fc.constant(Buffer.of(0xff)),
  fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)),
);

const framingLimits = fc.option(fc.record({
  maxNesting: fc.integer({ min: 1, max: 8 }),
  maxTokenCount: fc.integer({ min: 1, max: 64 }),
  maxTokenSize: fc.integer({ min: 1, max: 128 }),
}), { nil: undefined });

const framing: FuzzTarget = {
  name: "qga-framing",
  covers: "agent/protocol/framing.ts",
  property: () => fc.property(fc.array(framingPiece, { maxLength: 24 }), fc.array(fc.nat(), { maxLength: 16 }), framingLimits, (pieces, cuts, limits) => {
    const whole = Buffer.concat(pieces);
    const expected = descs(new JsonMessageStream(limits).feed(whole));
    const { messages, points } = feedInChunks(new JsonMessageStream(limits), whole, cuts);
    const chunked = descs(messages);
    if (JSON.stringify(chunked) !== JSON.stringify(expected)) {
      throw new Error(`split at ${JSON.stringify(points)} gave ${JSON.stringify(chunked)}, whole gave ${JSON.stringify(expected)}`);
    }
  }),
};

// ------------------------------------------------------------------------------- DHCP and ND

/** Random bytes, and valid packets with random bytes overwritten and a random length. */
function bytesAround(valid: Uint8Array[], maxLength: number): fc.Arbitrary<Uint8Array> {
  const mutated = fc.tuple(
    fc.constantFrom(...valid),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
    fc.option(fc.nat(), { nil: undefined }),
  ).map(([base, edits, cut]) => {
    const b = Uint8Array.from(base.subarray(0, cut === undefined ? base.length : cut % (base.length + 1)));
    for (const [at, v] of edits) if (b.length) b[at % b.length] = v;
    return b;
  });
  return fc.oneof(fc.uint8Array({ maxLength }), mutated);
}

const DHCP4_VALID = [
  clientPacket({ type: MessageType.DISCOVER, mac: "02:00:00:00:00:10", prl: [1, 3, 6, 15, 26, 119, 121] }),
  clientPacket({ type: MessageType.REQUEST, mac: "02:00:00:00:00:10", requested: "192.0.2.10", serverId: "192.0.2.1", clientId: Uint8Array.of(1, 2, 0, 0, 0, 0, 0x10), prl: [1, 3, 6, 26, 121] }),
  clientPacket({ type: MessageType.INFORM, mac: "02:00:00:00:00:11", ciaddr: "192.0.2.11", giaddr: "198.51.100.2", hops: 1 }),
];

const decodeResult = (r: { ok: boolean }) => {
  if (typeof r.ok !== "boolean") throw new Error(`decodeDhcp returned ${JSON.stringify(r)}`);
};

const dhcp4: FuzzTarget = {
  name: "dhcpv4-decode",
  covers: "metadata-server/dhcp/packet.ts",
  property: () => fc.property(bytesAround(DHCP4_VALID, 700), (b) => {
    const r = decodeDhcp(b);
    decodeResult(r);
    if (!r.ok && typeof r.error.code !== "string") throw new Error(`error without a code: ${JSON.stringify(r.error)}`);
  }),
};

function dhcp6Context(): Dhcp6Context {
  const s = site();
  s.networks[0]!.ipv6!.mode = "dhcpv6-stateful";
  s.vms[0]!.interfaces[0]!.ipv6 = { method: "dhcpv6-stateful", address: "2001:db8:1::10", prefixLength: 64, origin: "inventory" };
  return { network: "lan", plan: buildDhcpPlan(s).networks[0]!.ipv6, serverDuid: duidLl("02:00:00:00:00:01"), source: "fe80::ff:fe00:10" };
}

const CLIENT_DUID = Uint8Array.of(0, 1, 0, 1, 0x2a, 0, 0, 1, 2, 0, 0, 0, 0, 0x10);
const IA_NA = option6(Opt6.IA_NA, Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0));
const DHCP6_VALID = [
  encodeDhcp6(Msg6.SOLICIT, 0x123456, [option6(Opt6.CLIENTID, CLIENT_DUID), IA_NA]),
  encodeDhcp6(Msg6.INFORMATION_REQUEST, 0x654321, [option6(Opt6.CLIENTID, CLIENT_DUID)]),
];

const dhcp6: FuzzTarget = {
  name: "dhcpv6-decode",
  covers: "metadata-server/dhcp/dhcpv6.ts",
  property: () => {
    const ctx = dhcp6Context();
    return fc.property(bytesAround(DHCP6_VALID, 300), (b) => {
      const m = decodeDhcp6(b);
      const o = handleDhcp6(b, ctx);
      if ("error" in m && o.kind !== "drop") throw new Error(`undecodable message answered: ${JSON.stringify(o)}`);
    });
  },
};

const RA_VALID = [encodeRs("02:00:00:00:00:10"), encodeRs(), encodeRa(buildDhcpPlan(site(1442)).networks[0]!.ipv6!.ra!)];

const nd: FuzzTarget = {
  name: "nd-rs-ra-decode",
  covers: "metadata-server/dhcp/ra.ts",
  property: () => fc.property(bytesAround(RA_VALID, 200), (b) => {
    for (const r of [decodeRs(b), decodeRa(b)]) {
      if ("error" in r && typeof r.error !== "string") throw new Error(`error that is not a code: ${JSON.stringify(r)}`);
    }
  }),
};

// ------------------------------------------------------------------------------ the inventory

const INVENTORY_SEEDS = ["examples/inventory.yaml", "test/integration/http/fixtures/site.yaml"];

/** YAML-ish noise: the tokens that move a YAML parser between states. */
const yamlToken = fc.constantFrom(
  ":", "- ", "  ", "\n", "#", "&a ", "*a", "<<: *a", "!!str ", "!tag ", "|", ">", "'", '"', "{", "}", "[", "]", ",", "? ",
  "---\n", "...\n", "~", "null", "0x1F", "1e3", "-1", "192.0.2.1", "02:00:00:00:00:01", "mtu: ", "vms:", "networks:", "\t", "\u0000", "\uFEFF",
);

function mutateText(text: string): fc.Arbitrary<string> {
  const lines = text.split("\n");
  const edit = fc.oneof(
    fc.tuple(fc.constant("delete" as const), fc.nat(), fc.constant("")),
    fc.tuple(fc.constant("duplicate" as const), fc.nat(), fc.constant("")),
    fc.tuple(fc.constant("insert" as const), fc.nat(), fc.array(yamlToken, { maxLength: 6 }).map((t) => t.join(""))),
    fc.tuple(fc.constant("replace" as const), fc.nat(), fc.string({ maxLength: 8 })),
    fc.tuple(fc.constant("indent" as const), fc.nat(), fc.constantFrom(" ", "  ", "\t")),
  );
  return fc.tuple(fc.array(edit, { minLength: 1, maxLength: 6 }), fc.option(fc.nat(), { nil: undefined })).map(([edits, cut]) => {
    const out = [...lines];
    for (const [kind, at, extra] of edits) {
      const i = at % Math.max(out.length, 1);
      const line = out[i] ?? "";
      if (kind === "delete") out.splice(i, 1);
      else if (kind === "duplicate") out.splice(i, 0, line);
      else if (kind === "indent") out[i] = extra + line;
      else {
        const col = line.length ? at % line.length : 0;
        out[i] = kind === "insert" ? line.slice(0, col) + extra + line.slice(col) : line.slice(0, col) + extra + line.slice(col + extra.length);
      }
    }
    const joined = out.join("\n");
    return cut === undefined ? joined : joined.slice(0, cut % (joined.length + 1));
  });
}

const inventory = (templates: Record<string, string>): FuzzTarget => ({
  name: "inventory-load",
  covers: "metadata-server/inventory/load.ts",
  property: () => {
    const seeds = INVENTORY_SEEDS.map((f) => readFileSync(f, "utf8"));
    const text = fc.oneof(
      { weight: 1, arbitrary: fc.array(fc.oneof(yamlToken, fc.string({ maxLength: 6 })), { maxLength: 40 }).map((t) => t.join("")) },
      { weight: 4, arbitrary: fc.constantFrom(...seeds).chain(mutateText) },
    );
    return fc.property(text, (t) => {
      const r = parseSite(t, "fuzz.yaml", templates);
      if (!r.site && r.issues.length === 0) throw new Error("neither a site nor an issue");
      for (const issue of r.issues) {
        if (issue.file !== "fuzz.yaml" || !Number.isInteger(issue.line) || issue.line! < 1 || !Number.isInteger(issue.column) || issue.column! < 1
          || typeof issue.code !== "string" || typeof issue.message !== "string") {
          throw new Error(`issue without file:line:column: ${JSON.stringify(issue)}`);
        }
      }
    });
  },
});

/** Every target; the inventory's needs the bundled templates, read once. */
export async function fuzzTargets(): Promise<FuzzTarget[]> {
  const templates = await loadTemplates("cloud-init-templates");
  return [framing, dhcp4, dhcp6, nd, inventory(templates)];
}

export interface FuzzResult {
  target: string;
  cases: number;
  ms: number;
  seed: number;
  failure?: { counterexample: string; path: string; error: string; replay: string };
}

/** Runs one target for `cases` cases from `seed` (or replays one case by its `path`); a failure carries what replays it. */
export function runFuzzTarget(target: FuzzTarget, cases: number, seed: number, path?: string): FuzzResult {
  const started = performance.now();
  const details = fc.check(target.property(), { numRuns: cases, seed, endOnFailure: false, ...(path ? { path } : {}) });
  const ms = performance.now() - started;
  const result: FuzzResult = { target: target.name, cases: details.numRuns, ms, seed };
  if (details.failed) {
    result.failure = {
      counterexample: fc.stringify(details.counterexample),
      path: details.counterexamplePath ?? "",
      error: details.errorInstance instanceof Error ? (details.errorInstance.stack ?? details.errorInstance.message) : String(details.errorInstance),
      replay: `FUZZ_SEED=${seed} FUZZ_TARGETS=${target.name} FUZZ_PATH=${details.counterexamplePath ?? ""}`,
    };
  }
  return result;
}
