import { describe, expect, it } from "vitest";
import { ResponseHeaders } from "../../../metadata-server/http/response-headers.ts";

const TEXT = { "content-type": "text/plain; charset=utf-8" };

describe("ResponseHeaders", () => {
  it("adds content-length and hands out one frozen object per header constant and length", () => {
    const cache = new ResponseHeaders();
    const a = cache.get(TEXT, 180, false);
    expect(a).toEqual({ "content-type": "text/plain; charset=utf-8", "content-length": 180 });
    expect(Object.isFrozen(a)).toBe(true);
    expect(cache.get(TEXT, 180, false)).toBe(a);
    expect(cache.get(TEXT, 181, false)).toEqual({ ...TEXT, "content-length": 181 });
    expect(cache.get({ ...TEXT }, 180, false)).not.toBe(a); // another object, another entry
    expect(cache.get(undefined, 0, false)).toEqual({ "content-length": 0 });
    expect(cache.get(undefined, 0, false)).toBe(cache.get(undefined, 0, false));
  });

  it("says connection: close while the server closes, in an object of its own", () => {
    const cache = new ResponseHeaders();
    const open = cache.get(TEXT, 10, false);
    const closing = cache.get(TEXT, 10, true);
    expect(closing).toEqual({ ...TEXT, "content-length": 10, connection: "close" });
    expect(open).not.toHaveProperty("connection");
    expect(cache.get(TEXT, 10, false)).toBe(open);
  });

  it("stops caching past its bound instead of growing without end", () => {
    const cache = new ResponseHeaders();
    for (let n = 0; n < 5000; n++) cache.get(TEXT, n, false);
    expect(cache.get(TEXT, 4095, false)).toBe(cache.get(TEXT, 4095, false));
    const past = cache.get(TEXT, 4999, false);
    expect(past).toEqual({ ...TEXT, "content-length": 4999 });
    expect(cache.get(TEXT, 4999, false)).not.toBe(past);
  });
});
