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
  // Suites that fail to load have no tests of their own; count each as one failure.
  const suiteFailures = (report.numFailedTestSuites ?? 0) - countSuitesWithFailedTests(report);
  failed += (report.numFailedTests ?? 0) + Math.max(0, suiteFailures);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || skipped > 0 ? 1 : 0);

function countSuitesWithFailedTests(r) {
  return (r.testResults ?? []).filter((s) => (s.assertionResults ?? []).some((a) => a.status === "failed")).length;
}
