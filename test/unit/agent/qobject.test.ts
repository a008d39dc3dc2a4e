import { describe, it, expect } from "vitest";
import { toQemuJson, formatDouble17g, qdictKeyOrder, QFloat } from "../../../agent/protocol/index.ts";

describe("QEMU JSON serialisation", () => {
  it("orders keys as a QDict iterates them (recorded qemu-ga output)", () => {
    expect(qdictKeyOrder(["return", "id"])).toEqual(["return", "id"]);
    expect(qdictKeyOrder(["error", "id"])).toEqual(["id", "error"]);
    expect(qdictKeyOrder(["class", "desc"])).toEqual(["class", "desc"]);
    expect(qdictKeyOrder(["name", "hardware-address", "ip-addresses", "statistics"])).toEqual(["name", "ip-addresses", "statistics", "hardware-address"]);
    expect(toQemuJson({ count: 5, "buf-b64": "aGVsbG8=", eof: false })).toBe('{"count": 5, "buf-b64": "aGVsbG8=", "eof": false}');
  });

  it("prints doubles like printf %.17g", () => {
    expect(formatDouble17g(1.5)).toBe("1.5");
    expect(formatDouble17g(0.1)).toBe("0.10000000000000001");
    expect(formatDouble17g(1e300)).toBe("1.0000000000000001e+300");
    expect(formatDouble17g(1e-7)).toBe("9.9999999999999995e-08");
    expect(formatDouble17g(100)).toBe("100");
    expect(toQemuJson([new QFloat(2), 2, 2n ** 64n - 1n])).toBe("[2, 2, 18446744073709551615]");
  });

  it("escapes like QEMU: non-ASCII as uppercase \\uXXXX, astral as surrogate pairs", () => {
    expect(toQemuJson("caf\u00e9 \u201Cq\u201D \n\t\"\\ \u{1F600}")).toBe('"caf\\u00E9 \\u201Cq\\u201D \\n\\t\\"\\\\ \\uD83D\\uDE00"');
    expect(toQemuJson({})).toBe("{}");
    expect(toQemuJson([])).toBe("[]");
  });
});
