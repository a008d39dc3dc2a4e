// Prints the plain "N passed, N failed" line CI reads, from one or more vitest JSON reports (the
// main suite and the end-to-end run). A missing or unreadable report counts as a failure: silence
// must never look like success.
import { readFileSync } from "node:fs";

const paths = process.argv.length > 2 ? process.argv.slice(2) : ["test-artifacts/vitest-report.json"];
let passed = 0;
let failed = 0;
let skipped = 0;
for (const path of paths) {
  let report;
  try {
    report = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    console.log(`test report ${path} unreadable: ${err.message}`);
    failed += 1;
    continue;
  }
  passed += report.numPassedTests ?? 0;
  failed += (report.numFailedTests ?? 0) + countFilesFailedWithoutAFailedTest(report);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || skipped > 0 ? 1 : 0);

/**
 * A test file that failed to load, or whose beforeAll/afterAll hook failed, has no failed test of
 * its own: each counts as one failure. (vitest's numFailedTestSuites is no help here: it counts
 * every describe block around a failed test as a failed suite too.)
 */
function countFilesFailedWithoutAFailedTest(r) {
  return (r.testResults ?? []).filter((f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed")).length;
}
