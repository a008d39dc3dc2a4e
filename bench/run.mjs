// Runs benchmarks written in TypeScript: each bench/NAME.bench.ts is bundled by esbuild into a
// temporary CommonJS file and run with node, so benchmarks measure the same code the bundles ship.
// Usage: node bench/run.mjs [NAME ...]   (no names: every benchmark, one after another)
import { build } from "esbuild";
import { readdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const benchDir = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(benchDir).filter((f) => f.endsWith(".bench.ts")).map((f) => f.replace(/\.bench\.ts$/, ""));
const wanted = process.argv.slice(2);
const names = wanted.length ? wanted : all;
const unknown = names.filter((n) => !all.includes(n));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; have: ${all.join(", ")}`);
  process.exit(2);
}
const out = mkdtempSync(join(tmpdir(), "guestlink-bench-"));
let failed = 0;
try {
  for (const name of names) {
    const outfile = join(out, `${name}.cjs`);
    await build({
      entryPoints: [join(benchDir, `${name}.bench.ts`)],
      outfile, bundle: true, platform: "node", format: "cjs", target: "node20",
      external: ["bufferutil", "utf-8-validate"], logLevel: "warning",
    });
    console.log(`\n=== bench ${name}`);
    const r = spawnSync(process.execPath, ["--expose-gc", outfile], { stdio: "inherit", cwd: join(benchDir, "..") });
    if (r.status !== 0) failed++;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
