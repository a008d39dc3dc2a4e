// Bundles the two entry points into single CommonJS files under bin/.
// CommonJS because the agent bundle is copied alone into guests that run Debian 12's Node 18,
// where an extensionless file without a package.json next to it is loaded as CommonJS.
import { build } from "esbuild";
import { chmod } from "node:fs/promises";

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  sourcemap: false,
  legalComments: "none",
  banner: { js: "#!/usr/bin/env node" },
  // Some dependencies ship only ESM that reads import.meta.url (node-cron locates its daemon file with
  // it); in a CommonJS bundle that is empty, so it is defined as the bundle file's own URL.
  inject: ["packaging/import-meta-url.js"],
  define: { "import.meta.url": "import_meta_url" },
  logLevel: "warning",
  // ws probes for these optional native accelerators; they are never installed.
  external: ["bufferutil", "utf-8-validate"],
};
// koffi ships a native module per platform; it is loaded from node_modules at run time.
const serverExternal = [...common.external, "koffi"];

const targets = [
  { entryPoints: ["metadata-server/main.ts"], outfile: "bin/guestlink", target: "node20", external: serverExternal },
  { entryPoints: ["agent/main.ts"], outfile: "bin/guestlink-agent", target: "node18" },
];

// Each target builds on its own, so one broken entry point does not hide the other's result.
let failed = 0;
for (const t of targets) {
  try {
    await build({ ...common, ...t });
    await chmod(t.outfile, 0o755);
  } catch (err) {
    failed++;
    console.error(`build of ${t.outfile} failed: ${err.message}`);
  }
}
process.exit(failed ? 1 : 0);
