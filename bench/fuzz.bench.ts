// Fuzzing as a job anyone can run long: every target of test/fuzz/targets.ts (the QGA framing
// parser, the DHCPv4, DHCPv6 and RS/RA decoders, the inventory loader) for FUZZ_CASES cases
// each, printing cases and cases/s per target, and any failure with its seed, counterexample and
// the line that replays it. Exits 1 on a failure. A fuzz job has no peer: no ratio here.
//
// Env: FUZZ_CASES (per target, default 100000), FUZZ_SEED (default: random, printed),
//      FUZZ_TARGETS (names, comma or space separated; default all), FUZZ_PATH (replay one case).
// CI runs the same targets briefly with a fixed seed (test/unit/fuzz.test.ts).
import { fuzzTargets, runFuzzTarget } from "../test/fuzz/targets.ts";

const CASES = Number(process.env.FUZZ_CASES ?? 100_000);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const WANTED = (process.env.FUZZ_TARGETS ?? "").split(/[\s,]+/).filter(Boolean);
const PATH = process.env.FUZZ_PATH || undefined;

// The `yaml` parser reports some inputs (a mapping used as a key) with process.emitWarning; a
// million mutated inventories would bury the table in them, so they are counted instead.
let warnings = 0;
process.removeAllListeners("warning");
process.on("warning", () => { warnings++; });

async function main(): Promise<number> {
  if (!Number.isInteger(CASES) || CASES < 1) throw new Error(`FUZZ_CASES must be a positive integer, got ${process.env.FUZZ_CASES}`);
  if (!Number.isInteger(SEED)) throw new Error(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`);
  const all = await fuzzTargets();
  const unknown = WANTED.filter((w) => !all.some((t) => t.name === w));
  if (unknown.length) throw new Error(`unknown fuzz target(s): ${unknown.join(", ")}; have: ${all.map((t) => t.name).join(", ")}`);
  const targets = WANTED.length ? all.filter((t) => WANTED.includes(t.name)) : all;
  console.log(`fuzz: ${CASES} cases per target, seed ${SEED}${PATH ? `, replaying path ${PATH}` : ""}`);
  let failures = 0;
  for (const target of targets) {
    const r = runFuzzTarget(target, CASES, SEED, PATH);
    const rate = r.cases / (r.ms / 1000);
    console.log(`${target.name.padEnd(18)} ${target.covers.padEnd(34)} ${String(r.cases).padStart(9)} cases  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${Math.round(rate).toLocaleString("en-US").padStart(9)} cases/s  ${r.failure ? "FAILED" : "ok"}`);
    if (r.failure) {
      failures++;
      console.log(`  seed ${r.seed}, path ${r.failure.path}\n  counterexample: ${r.failure.counterexample}\n  ${r.failure.error.split("\n").join("\n  ")}\n  replay: ${r.failure.replay} npm run bench -- fuzz`);
    }
  }
  await new Promise((r) => setImmediate(r)); // warnings are delivered on a later tick
  console.log(`${failures ? `fuzz: ${failures} target(s) failed` : "fuzz: no failures"}${warnings ? ` (${warnings} process warnings from the yaml parser, counted, not printed)` : ""}`);
  return failures ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { console.error(e instanceof Error ? e.stack : e); process.exitCode = 2; });
