// Golden files: every document of every VM of every fixture inventory, byte for byte. A change
// in output shows up as a reviewable diff under test/golden/. Regenerate deliberately with
//   UPDATE_GOLDEN=1 npx vitest run test/unit/render/golden.test.ts
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSiteFile } from "../../../metadata-server/inventory/load.ts";
import { renderEc2MetaData } from "../../../metadata-server/render/ec2.ts";
import type { RenderContext } from "../../../metadata-server/render/context.ts";
import { seedFiles } from "../../../metadata-server/seed/layout.ts";

const INVENTORIES = [
  "examples/inventory.yaml",
  "test/fixtures/inventories/network-types.yaml",
  "test/fixtures/inventories/families.yaml",
  "test/fixtures/inventories/bond-vlan.yaml",
  "test/fixtures/inventories/four-mtus.yaml",
];
const GOLDEN = "test/golden";
const update = process.env.UPDATE_GOLDEN === "1";

describe.each(INVENTORIES)("golden output of %s", (path) => {
  it("matches test/golden byte for byte", async () => {
    const loaded = await loadSiteFile(path);
    expect(loaded.issues).toEqual([]);
    const site = loaded.site!;
    const enrolled: RenderContext = { site, agent: { url: "wss://meta.example.test:8443/v1/agent", credential: "golden-credential" } };
    for (const vm of site.vms) {
      const docs = new Map<string, string>();
      const dec = new TextDecoder();
      for (const f of seedFiles("nocloud", vm, enrolled)) docs.set(`nocloud/${f.path}`, dec.decode(f.data));
      for (const f of seedFiles("nocloud", vm, { site, networkConfigVersion: 2 })) if (f.path === "network-config") docs.set("nocloud-v2/network-config", dec.decode(f.data));
      for (const f of seedFiles("configdrive", vm, enrolled)) if (f.path.startsWith("openstack/latest/")) docs.set(`configdrive/${f.path}`, dec.decode(f.data));
      docs.set("ec2/meta-data.json", JSON.stringify(renderEc2MetaData(vm), null, 2) + "\n");
      for (const [doc, text] of docs) {
        const file = join(GOLDEN, basename(path, ".yaml"), vm.name, doc);
        if (update) {
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, text);
        }
        expect(existsSync(file), `${file} is missing; run with UPDATE_GOLDEN=1 and review the diff`).toBe(true);
        expect(text, file).toBe(readFileSync(file, "utf8"));
      }
    }
  });
});
