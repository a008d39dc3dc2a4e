// Bundles the integration entry points (server, raw probe) the way packaging/build.mjs bundles
// the server: CommonJS, koffi external. The bundles go under test-artifacts/ inside the repo so
// require("koffi") resolves from the repo's node_modules.
import { build } from "esbuild";
import { mkdirSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../../..");

const built = new Map<string, Promise<string>>();

/**
 * Bundles an entry once per test process. Every worker writes the same bytes to the same name,
 * through a temporary file and a rename, so concurrent workers never see a half-written bundle and
 * nothing accumulates between runs.
 */
export function bundleEntry(name: "server-entry" | "probe-entry"): Promise<string> {
  let p = built.get(name);
  if (!p) {
    p = build1(name);
    built.set(name, p);
  }
  return p;
}

async function build1(name: string): Promise<string> {
  const outDir = join(repoRoot, "test-artifacts", "dhcp-bundles");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${name}.cjs`);
  const tmp = join(outDir, `.${name}.${process.pid}.tmp.cjs`);
  await build({
    entryPoints: [join(here, `${name}.ts`)],
    outfile: tmp, bundle: true, platform: "node", format: "cjs", target: "node20",
    external: ["koffi", "bufferutil", "utf-8-validate"], logLevel: "error",
  });
  renameSync(tmp, outfile);
  return outfile;
}
