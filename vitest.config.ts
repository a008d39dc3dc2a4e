import { defineConfig } from "vitest/config";

// Peer tests (cloud-init, qemu-ga, DHCP clients in namespaces) spawn real programs, so
// timeouts are generous and the worker count matches the 2-core machines we run on.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", ["json", { outputFile: "test-artifacts/vitest-report.json" }]],
  },
});
