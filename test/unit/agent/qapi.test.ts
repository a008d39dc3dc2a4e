import { describe, it, expect } from "vitest";
import { QapiInputVisitor, QGA_72_SCHEMAS, JsonMessageStream, toZod, GuestNetworkLink } from "../../../agent/protocol/index.ts";
import type { QDict } from "../../../agent/protocol/index.ts";

function visit(name: keyof typeof QGA_72_SCHEMAS, args: string): unknown {
  const [m] = new JsonMessageStream().feed(Buffer.from(args));
  if (!m?.ok) throw new Error("bad test input");
  return new QapiInputVisitor().visitArguments(QGA_72_SCHEMAS[name].args, m.value as QDict);
}

describe("QAPI input visitor", () => {
  it("reports members in schema order, then unexpected ones", () => {
    expect(() => visit("guest-file-seek", '{"bogus": 1}')).toThrow("Parameter 'handle' is missing");
    expect(() => visit("guest-file-seek", '{"handle": 1, "offset": "x", "whence": "set"}')).toThrow("Invalid parameter type for 'offset', expected: integer");
    expect(() => visit("guest-file-seek", '{"handle": 1, "offset": 1, "whence": "set", "x": 1}')).toThrow("Parameter 'x' is unexpected");
  });

  it("names nested members with their path", () => {
    expect(() => visit("guest-exec", '{"path": "/bin/true", "arg": ["a", 2]}')).toThrow("Invalid parameter type for 'arg[1]', expected: string");
    expect(() => visit("guest-set-vcpus", '{"vcpus": [{"logical-id": 0, "online": true}, {"online": true}]}')).toThrow("Parameter 'vcpus[1].logical-id' is missing");
  });

  it("reports the unexpected key glib's hash table iterates first", () => {
    expect(() => visit("guest-info", '{"a": 1, "b": 2}')).toThrow("Parameter 'b' is unexpected");
  });

  it("accepts negative values for uint64 as QEMU does, and refuses strings", () => {
    expect(visit("guest-set-memory-blocks", '{"mem-blks": [{"phys-index": -1, "online": true}]}')).toEqual({ "mem-blks": [{ "phys-index": 18446744073709551615n, online: true }] });
    expect(() => visit("guest-set-memory-blocks", '{"mem-blks": [{"phys-index": "1", "online": true}]}')).toThrow("Parameter 'mem-blks[0].phys-index' expects uint64");
  });

  it("derives zod schemas from the same types", () => {
    const link = toZod(GuestNetworkLink);
    expect(link.safeParse({ name: "eth0", operstate: "up", mtu: 1500, type: "virtio" }).success).toBe(true);
    expect(link.safeParse({ name: "eth0", operstate: "sideways", mtu: 1500, type: "virtio" }).success).toBe(false);
  });
});
