// The last line of .ci/run ("N passed, N failed") comes from scripts/test-summary.mjs reading
// vitest's JSON reports. This runs vitest itself on a few throwaway test files, one for each way a
// test file can fail, and checks the counts against that real report: a count that is too low lets
// a broken submission look green, one that is too high misreports a red one.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/peers.ts";

const repo = resolve(import.meta.dirname, "../..");
const vitestApi = join(repo, "node_modules/vitest/dist/index.js");
const work = tempDir("ci-summary");
afterAll(() => work.remove());

/** Writes the files, runs vitest on them with the JSON reporter, then the summary on the report. */
function summarise(files: Record<string, string>): { line: string; status: number | null } {
  const dir = mkdtempSync(join(work.path, "run-"));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), `import { beforeAll, describe, expect, it } from ${JSON.stringify(vitestApi)};\n${body}\n`);
  const report = join(dir, "report.json");
  spawnSync(join(repo, "node_modules/.bin/vitest"), ["run", "--root", dir, "--reporter=json", `--outputFile=${report}`], { encoding: "utf8", timeout: 60_000 });
  const r = spawnSync(process.execPath, [join(repo, "scripts/test-summary.mjs"), report], { encoding: "utf8" });
  return { line: r.stdout.trim().split("\n").pop()!, status: r.status };
}

describe("the CI summary line", () => {
  it("counts each failed test once however deep its describe blocks, and passes a clean run", () => {
    const clean = summarise({ "a.test.mjs": `describe("x", () => { it("one", () => expect(1).toBe(1)); it("two", () => {}); });` });
    expect(clean).toEqual({ line: "2 passed, 0 failed", status: 0 });
    const nested = summarise({
      "a.test.mjs": `describe("x", () => { describe("y", () => { it("fails", () => expect(1).toBe(2)); it("passes", () => {}); }); });`,
    });
    expect(nested).toEqual({ line: "1 passed, 1 failed", status: 1 });
  });

  it("counts a file that fails to load, and one whose beforeAll fails, as one failure each", () => {
    const r = summarise({
      "a.test.mjs": `describe("x", () => { it("passes", () => {}); });`,
      "b.test.mjs": `import "./does-not-exist.mjs";`,
      "c.test.mjs": `describe("x", () => { beforeAll(() => { throw new Error("hook"); }); it("never runs", () => {}); });`,
    });
    // The test behind the failed hook is reported as skipped, which fails the run too.
    expect(r).toEqual({ line: "1 passed, 2 failed, 1 skipped", status: 1 });
  });
});
