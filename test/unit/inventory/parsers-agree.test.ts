// The loader reads valid files with js-yaml (fast) and locates problems with `yaml` (positions).
// Both must see the same data, or an inventory could validate one way and be served another.
import { readFileSync, readdirSync } from "node:fs";
import jsYaml from "js-yaml";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const schema = jsYaml.CORE_SCHEMA.extend({ implicit: [(jsYaml as unknown as { types: { merge: jsYaml.Type } }).types.merge] });
const files = ["examples/inventory.yaml", ...readdirSync("test/fixtures/inventories").map((f) => `test/fixtures/inventories/${f}`)];

describe("js-yaml and yaml read inventories identically", () => {
  it.each(files)("%s", (file) => {
    const text = readFileSync(file, "utf8");
    expect(jsYaml.load(text, { schema })).toEqual(parse(text, { merge: true }));
  });
  it("including the scalars where YAML versions differ", () => {
    const text = "a: 0644\nb: yes\nc: 2026-01-01\nd: 1e3\ne: ~\nf: 0x1F\ng: '52:54:00:12:34:56'\nh: 52:54\n";
    expect(jsYaml.load(text, { schema })).toEqual(parse(text));
  });
});
