import { describe, it, expect } from "vitest";
import { tzAbbreviation, parseTzif } from "../../../agent/collectors/tzfile.ts";

/** A version-1 TZif file: one transition at t=1000 from "AAA" (+0) to "BBB" (+3600). */
function tzif(): Buffer {
  const header = Buffer.alloc(44);
  header.write("TZif", 0, "latin1");
  const counts = [0, 0, 0, 1, 2, 8]; // isut, isstd, leap, time, type, char
  counts.forEach((c, i) => header.writeUInt32BE(c, 20 + i * 4));
  const times = Buffer.alloc(4);
  times.writeInt32BE(1000);
  const idx = Buffer.from([1]);
  const types = Buffer.alloc(12);
  types.writeInt32BE(0, 0); types[4] = 0; types[5] = 0;
  types.writeInt32BE(3600, 6); types[10] = 1; types[11] = 4;
  return Buffer.concat([header, times, idx, types, Buffer.from("AAA\0BBB\0", "latin1")]);
}

describe("TZif abbreviations", () => {
  it("parses types and transitions", () => {
    expect(parseTzif(tzif())).toEqual({ transitions: [1000], idx: [1], types: [{ utoff: 0, abbr: "AAA" }, { utoff: 3600, abbr: "BBB" }] });
  });
  it("picks the abbreviation in force, matched against the current offset", () => {
    expect(tzAbbreviation(tzif(), 2000, 3600)).toBe("BBB");
    expect(tzAbbreviation(tzif(), 500, 0)).toBe("AAA");
    expect(tzAbbreviation(Buffer.from("not a tzif file"), 0, 0)).toBeUndefined();
  });
});
