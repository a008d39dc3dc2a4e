import { beforeAll, describe, expect, it } from "vitest";
import { forwardedClient, hasUntrustedForwarding, identify, parseTrustedProxies, type IdentifyConfig } from "../../../metadata-server/http/identify.ts";
import { loadSiteFile } from "../../../metadata-server/inventory/load.ts";
import { canonicalAddress } from "../../../metadata-server/http/address.ts";
import { SiteSnapshot } from "../../../metadata-server/site-store.ts";
import { instanceIdSignature } from "../../../metadata-server/state/tokens.ts";

const FIXTURE = "test/integration/http/fixtures/site.yaml";
const A = "00000000-0000-4000-8000-00000000000a";
const proxySecret = Buffer.from("shared");
let snapshot: SiteSnapshot;
const config: IdentifyConfig = { trustedProxies: parseTrustedProxies(["127.0.0.7", "::ffff:127.0.0.8"]), proxySharedSecret: proxySecret };
const noProxies: IdentifyConfig = { trustedProxies: new Set() };

beforeAll(async () => {
  const loaded = await loadSiteFile(FIXTURE);
  snapshot = new SiteSnapshot(loaded.site!, Buffer.alloc(32, 1));
});

describe("canonicalAddress", () => {
  it("unwraps IPv4-mapped IPv6 and canonicalises IPv6", () => {
    expect(canonicalAddress("::ffff:127.0.0.42")).toBe("127.0.0.42");
    expect(canonicalAddress("::FFFF:127.0.0.42")).toBe("127.0.0.42");
    expect(canonicalAddress("2001:DB8:0:0::1")).toBe("2001:db8::1");
    expect(canonicalAddress("fe80::1%eth0")).toBe("fe80::1");
    expect(canonicalAddress("not an ip")).toBeUndefined();
    expect(canonicalAddress(undefined)).toBeUndefined();
  });
});

describe("identify by source address", () => {
  it("finds the VM that owns the peer address, also as IPv4-mapped IPv6", () => {
    expect(identify(snapshot, "127.0.0.42", {}, noProxies)).toMatchObject({ vm: { name: "vm-a" }, via: "source" });
    expect(identify(snapshot, "::ffff:127.0.0.43", {}, noProxies)).toMatchObject({ vm: { name: "vm-b" } });
  });

  it("gives nobody for unknown and for doubly claimed addresses", () => {
    expect(identify(snapshot, "127.0.0.99", {}, noProxies)).toMatchObject({ status: 404, reason: "unknown-address" });
    expect(identify(snapshot, "127.0.0.44", {}, noProxies)).toMatchObject({ status: 404, reason: "unknown-address" });
    expect(snapshot.ambiguousAddresses.has("127.0.0.44")).toBe(true);
    expect(identify(undefined, "127.0.0.42", {}, noProxies)).toMatchObject({ status: 404, reason: "no-site" });
  });
});

describe("forwarding headers", () => {
  it("are ignored from untrusted peers", () => {
    expect(identify(snapshot, "127.0.0.43", { "x-forwarded-for": "127.0.0.42" }, config)).toMatchObject({ vm: { name: "vm-b" }, via: "source" });
    expect(identify(snapshot, "127.0.0.99", { "x-forwarded-for": "127.0.0.42" }, config)).toMatchObject({ status: 404 });
    expect(hasUntrustedForwarding("127.0.0.99", { "x-forwarded-for": "1.2.3.4" }, config)).toBe(true);
    expect(hasUntrustedForwarding("127.0.0.7", { "x-forwarded-for": "1.2.3.4" }, config)).toBe(false);
  });

  it("from a trusted proxy name the right-most hop that is not a trusted proxy", () => {
    expect(identify(snapshot, "127.0.0.7", { "x-forwarded-for": "127.0.0.42" }, config)).toMatchObject({ vm: { name: "vm-a" }, via: "forwarded-for" });
    expect(identify(snapshot, "::ffff:127.0.0.8", { "x-forwarded-for": "127.0.0.42, 127.0.0.7" }, config)).toMatchObject({ vm: { name: "vm-a" } });
    expect(identify(snapshot, "127.0.0.7", { "x-forwarded-for": "127.0.0.42, 127.0.0.99" }, config)).toMatchObject({ status: 404 });
    expect(forwardedClient("10.0.0.1, bogus", new Set())).toBeUndefined();
    expect(forwardedClient("127.0.0.7", config.trustedProxies)).toBeUndefined();
  });

  it("accept a signed X-Instance-ID from a trusted proxy only with a valid signature", () => {
    const good = instanceIdSignature(proxySecret, A);
    expect(identify(snapshot, "127.0.0.7", { "x-instance-id": A, "x-instance-id-signature": good }, config)).toMatchObject({ vm: { name: "vm-a" }, via: "signed-instance" });
    expect(identify(snapshot, "127.0.0.7", { "x-instance-id": A, "x-instance-id-signature": good.replace(/.$/, (c) => (c === "0" ? "1" : "0")) }, config)).toMatchObject({ status: 403, reason: "bad-signature" });
    expect(identify(snapshot, "127.0.0.7", { "x-instance-id": A }, config)).toMatchObject({ status: 403, reason: "unsigned-instance" });
    const unknown = "00000000-0000-4000-8000-0000000000ff";
    expect(identify(snapshot, "127.0.0.7", { "x-instance-id": unknown, "x-instance-id-signature": instanceIdSignature(proxySecret, unknown) }, config)).toMatchObject({ status: 404, reason: "unknown-instance" });
    // Without a configured secret no assertion is accepted, however it is signed.
    expect(identify(snapshot, "127.0.0.7", { "x-instance-id": A, "x-instance-id-signature": good }, { trustedProxies: config.trustedProxies })).toMatchObject({ status: 403 });
    // From an untrusted peer, the assertion is not even looked at.
    expect(identify(snapshot, "127.0.0.43", { "x-instance-id": A, "x-instance-id-signature": good }, config)).toMatchObject({ vm: { name: "vm-b" }, via: "source" });
  });

  it("refuses trusted proxies that are not addresses", () => {
    expect(() => parseTrustedProxies(["proxy.example"])).toThrow(/not an IP address/);
  });
});
