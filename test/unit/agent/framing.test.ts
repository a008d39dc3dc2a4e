import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { JsonMessageStream, QFloat, toQemuJson } from "../../../agent/protocol/index.ts";
import type { FramedMessage } from "../../../agent/protocol/index.ts";
import { feedInChunks } from "../../fuzz/targets.ts";

const feedAll = (s: JsonMessageStream, ...chunks: (string | Buffer)[]): FramedMessage[] =>
  chunks.flatMap((c) => s.feed(typeof c === "string" ? Buffer.from(c, "latin1") : c));
const descs = (ms: FramedMessage[]): string[] => ms.map((m) => (m.ok ? `ok:${toQemuJson(m.value)}` : `err:${m.desc}`));

describe("JsonMessageStream", () => {
  it("frames by brace balance, not lines", () => {
    const s = new JsonMessageStream();
    expect(descs(feedAll(s, '{"a":\n1}{"b"', ": [2, {}]}"))).toEqual(['ok:{"a": 1}', 'ok:{"b": [2, {}]}']);
  });

  it("keeps integers and floats apart, and 64-bit integers exact", () => {
    const s = new JsonMessageStream();
    const [m] = feedAll(s, '{"i": 9223372036854775807, "u": 18446744073709551615, "f": 1.0, "e": 1e3, "n": -0}');
    expect(m!.ok).toBe(true);
    const v = (m as { value: Map<string, unknown> }).value;
    expect(v.get("i")).toBe(9223372036854775807n);
    expect(v.get("u")).toBe(18446744073709551615n);
    expect(v.get("f")).toBeInstanceOf(QFloat);
    expect(v.get("e")).toEqual(new QFloat(1000));
    expect(v.get("n")).toBe(0);
  });

  it("a stray 0xFF reports the half-received request and resynchronises", () => {
    const s = new JsonMessageStream();
    const out = feedAll(s, '{"execute": "guest-ping", "argu', Buffer.from([0xff]), '{"x": 1}');
    expect(descs(out)).toEqual(["err:JSON parse error, stray '\"argu\uFFFD'", 'ok:{"x": 1}']);
  });

  it("a number or keyword at top level needs a delimiter", () => {
    const s = new JsonMessageStream();
    expect(feedAll(s, "42")).toEqual([]);
    expect(descs(feedAll(s, " "))).toEqual(["ok:42"]);
    expect(descs(feedAll(s, "hello world\n"))).toEqual(["err:JSON parse error, invalid keyword 'hello'", "err:JSON parse error, invalid keyword 'world'"]);
  });

  it("enforces the nesting limit as a named option", () => {
    const s = new JsonMessageStream({ maxNesting: 3 });
    const out = descs(feedAll(s, "[[[[]]]]"));
    expect(out[0]).toBe("err:JSON nesting depth limit exceeded");
  });

  it("enforces the token count and token size limits", () => {
    expect(descs(feedAll(new JsonMessageStream({ maxTokenCount: 4 }), "[1,2,3]"))[0]).toBe("err:JSON token count limit exceeded");
    expect(descs(feedAll(new JsonMessageStream({ maxTokenSize: 8 }), '["abcdefghij"]'))[0]).toBe("err:JSON token size limit exceeded");
  });

  it("a token longer than a buffer segment arrives whole, and one over the limit is dropped and lexed afresh", () => {
    const long = "x".repeat(2.5 * 1024 * 1024 + 3); // crosses two 1 MiB segments
    const out = feedAll(new JsonMessageStream(), `{"a": "${long}"}`, '{"b": 1}');
    expect(out.map((m) => (m.ok ? (m.value as Map<string, unknown>).get("a") ?? "b" : m.desc))).toEqual([long, "b"]);
    // As QEMU's lexer: past the limit the partial string goes to the streamer, then "AB" starts a new token.
    const s = new JsonMessageStream({ maxTokenSize: 8 });
    expect(descs(feedAll(s, '"abcdefghAB"', '{"c": 1}'))).toEqual([
      "err:JSON token size limit exceeded", "err:JSON parse error, stray 'A'", 'ok:{"c": 1}',
    ]);
  });

  it("rejects duplicate keys and invalid escapes with QEMU's messages", () => {
    expect(descs(feedAll(new JsonMessageStream(), '{"a":1,"a":2}'))).toEqual(["err:JSON parse error, duplicate key"]);
    expect(descs(feedAll(new JsonMessageStream(), '["\\x"]'))).toEqual(["err:JSON parse error, invalid escape sequence in string"]);
    expect(descs(feedAll(new JsonMessageStream(), '["\\ud800"]'))).toEqual(["err:JSON parse error, \\ud800 is not a valid Unicode character"]);
  });

  it("chunk boundaries never matter (property)", () => {
    const docs = fc.array(fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ execute: "x", id: v })), { minLength: 1, maxLength: 5 });
    fc.assert(fc.property(docs, fc.array(fc.nat(), { maxLength: 20 }), (list, cuts) => {
      const whole = Buffer.from(list.join(" "), "utf8");
      const expected = descs(new JsonMessageStream().feed(whole));
      expect(descs(feedInChunks(new JsonMessageStream(), whole, cuts).messages)).toEqual(expected);
      expect(expected.length).toBe(list.length);
    }), { numRuns: 200 });
  });

  it("round-trips standard JSON values through our serialiser (property)", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => {
      const [m] = new JsonMessageStream().feed(Buffer.from(JSON.stringify([v]), "utf8"));
      expect(m!.ok).toBe(true);
      const back = JSON.parse(toQemuJson((m as { value: unknown }).value)) as unknown[];
      expect(back[0]).toEqual(JSON.parse(JSON.stringify(v)));
    }), { numRuns: 200 });
  });
});
