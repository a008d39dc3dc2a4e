// The one operator check, as a pure function: who may use the operator routes and the console's
// event stream (http/operator.ts).
import { describe, expect, it } from "vitest";
import { hostOf, isGuestAddress, operatorHostKey, operatorRefusal, type OperatorAccess, type OperatorRequest } from "../../../metadata-server/http/operator.ts";

const GUEST = "10.0.0.5";
const SHARED = "10.0.0.9";
const access: OperatorAccess = {
  trustedProxies: new Set(["127.0.0.7"]),
  operatorHosts: new Set(["metadata.example.org", "192.0.2.10"]),
  isGuestAddress: (a) => a === GUEST || a === SHARED,
};
const check = (req: Partial<OperatorRequest> & { headers?: OperatorRequest["headers"] }) =>
  operatorRefusal({ peer: "127.0.0.1", local: "127.0.0.1", upgrade: false, ...req, headers: { host: "127.0.0.1:8775", ...req.headers } }, access);

describe("operatorRefusal: the peer", () => {
  it("lets the operator on loopback through", () => {
    expect(check({})).toBeUndefined();
    expect(check({ peer: "::ffff:127.0.0.1" })).toBeUndefined();
  });

  it("refuses a trusted proxy whatever it forwards, and before looking at Host", () => {
    expect(check({ peer: "127.0.0.7" })).toBe("trusted-proxy-peer");
    expect(check({ peer: "::ffff:127.0.0.7", headers: { "x-forwarded-for": "127.0.0.1", host: "evil.example" } })).toBe("trusted-proxy-peer");
  });

  it("refuses guest addresses, ambiguous ones included", () => {
    expect(check({ peer: GUEST })).toBe("guest-on-operator-api");
    expect(check({ peer: `::ffff:${SHARED}`, headers: { host: "evil.example" } })).toBe("guest-on-operator-api");
  });
});

describe("operatorRefusal: Host", () => {
  it.each([
    "127.0.0.1", "127.0.0.1:8775", "127.1.2.3:1", "localhost", "LocalHost:8775", "[::1]:8775", "[::1]",
    "metadata.example.org", "METADATA.example.org:443", "192.0.2.10:8775",
  ])("accepts %s", (host) => expect(check({ headers: { host } })).toBeUndefined());

  it.each([
    "evil.example", "evil.example:8775", "127.0.0.1.evil.example", "localhost.evil.example", "metadata.example.org.evil.example",
    "sub.metadata.example.org", "198.51.100.1", "[2001:db8::1]:80", "127.0.0.1:8775:1", "user@127.0.0.1", "127.0.0.1/x", "[::1", "",
  ])("refuses %j", (host) => expect(check({ headers: { host } })).toMatch(/^host-/));

  it("refuses a request without Host", () => {
    expect(operatorRefusal({ peer: "127.0.0.1", local: "127.0.0.1", upgrade: false, headers: {} }, access)).toBe("host-missing");
  });

  it("accepts the address the listener accepted the connection on", () => {
    expect(check({ local: "198.51.100.1", peer: "198.51.100.20", headers: { host: "198.51.100.1:9775" } })).toBeUndefined();
    expect(check({ local: "::ffff:198.51.100.1", peer: "198.51.100.20", headers: { host: "198.51.100.1" } })).toBeUndefined();
    expect(check({ local: "198.51.100.1", peer: "198.51.100.20", headers: { host: "198.51.100.2" } })).toBe("host-not-allowed");
  });
});

describe("operatorRefusal: Origin on WebSocket upgrades", () => {
  const ws = (origin: string | undefined, host = "127.0.0.1:8775") => check({ upgrade: true, headers: { host, ...(origin === undefined ? {} : { origin }) } });

  it("lets non-browser clients (no Origin) and the console's own origin through", () => {
    expect(ws(undefined)).toBeUndefined();
    expect(ws("http://127.0.0.1:8775")).toBeUndefined();
    expect(ws("http://LOCALHOST:8775", "localhost:8775")).toBeUndefined();
    expect(ws("http://metadata.example.org", "metadata.example.org:80")).toBeUndefined();
  });

  it.each([
    "http://evil.example", "http://evil.example:8775", "http://127.0.0.1:8776", "http://127.0.0.1", "https://127.0.0.1:8775",
    "null", "file://", "http://localhost:8775", "http://127.0.0.1:8775/path", "",
  ])("refuses Origin %j for Host 127.0.0.1:8775", (origin) => expect(ws(origin)).toBe("origin-not-allowed"));

  it("is not looked at on plain requests (CORS keeps other sites from reading those)", () => {
    expect(check({ headers: { origin: "http://evil.example" } })).toBeUndefined();
  });
});

describe("helpers", () => {
  it("hostOf takes the host out of a Host header", () => {
    expect(hostOf("Example.ORG:80")).toBe("example.org");
    expect(hostOf("[::1]:8775")).toBe("::1");
    expect(hostOf("a b")).toBeUndefined();
  });

  it("operatorHostKey normalises configured names and addresses, and refuses URLs and ports", () => {
    expect(operatorHostKey("Metadata.Example.ORG")).toBe("metadata.example.org");
    expect(operatorHostKey("2001:DB8::0001")).toBe("2001:db8::1");
    expect(operatorHostKey("[2001:db8::1]")).toBe("2001:db8::1");
    expect(operatorHostKey("http://x")).toBeUndefined();
    expect(operatorHostKey("")).toBeUndefined();
  });

  it("isGuestAddress counts addresses two VMs claim", () => {
    const snapshot = { vmByAddress: (a: string) => (a === GUEST ? ({} as never) : undefined), ambiguousAddresses: new Set([SHARED]) };
    expect(isGuestAddress(snapshot, GUEST)).toBe(true);
    expect(isGuestAddress(snapshot, SHARED)).toBe(true);
    expect(isGuestAddress(snapshot, "127.0.0.1")).toBe(false);
    expect(isGuestAddress(undefined, GUEST)).toBe(false);
  });
});
