import { defineConfig } from "vitest/config";

// The end-to-end run (npm run test:e2e): one real guest under QEMU/TCG, so one worker, long
// timeouts, and the console output left on so each step's time shows in the log.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    testTimeout: 600_000,
    hookTimeout: 1_500_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ["default", ["json", { outputFile: "test-artifacts/vitest-e2e-report.json" }]],
  },
});
