// Builds the bundles once before any test file runs, so tests that spawn bin/guestlink or
// bin/guestlink-agent exercise exactly what ships, and parallel test files never race a build.
import { spawnSync } from "node:child_process";

export default function setup(): void {
  const r = spawnSync(process.execPath, ["packaging/build.mjs"], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("packaging/build.mjs failed; the tests need bin/guestlink and bin/guestlink-agent");
}
