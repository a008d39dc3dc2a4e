import { describe, expect, it } from "vitest";
import { agentEnrollment, agentUrl } from "../../../metadata-server/state/enrollment.ts";
import {
  agentCredential, checkImdsToken, constantTimeEqual, instanceIdSignature, mintImdsToken, SEED_TOKEN_PATTERN, seedToken, verifyInstanceIdSignature,
} from "../../../metadata-server/state/tokens.ts";

const secret = Buffer.alloc(32, 7);
const other = Buffer.alloc(32, 8);
const A = "00000000-0000-4000-8000-00000000000a";
const B = "00000000-0000-4000-8000-00000000000b";

describe("seed tokens", () => {
  it("are 256-bit base64url, stable, per VM and per secret", () => {
    const t = seedToken(secret, A);
    expect(t).toMatch(SEED_TOKEN_PATTERN);
    expect(Buffer.from(t, "base64url").length).toBe(32);
    expect(seedToken(secret, A)).toBe(t);
    expect(seedToken(secret, A.toUpperCase())).toBe(t);
    expect(seedToken(secret, B)).not.toBe(t);
    expect(seedToken(other, A)).not.toBe(t);
  });

  it("live in a different HMAC domain from agent credentials", () => {
    expect(agentCredential(secret, A)).not.toBe(seedToken(secret, A));
    expect(agentCredential(secret, A)).toMatch(SEED_TOKEN_PATTERN);
    expect(agentCredential(secret, A)).not.toBe(agentCredential(secret, B));
  });
});

describe("constantTimeEqual", () => {
  it("compares content and length", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "abcd")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
  });
});

describe("Neutron-style instance signatures", () => {
  it("are the hex HMAC-SHA256 of the instance id under the shared secret", () => {
    // Reference value computed as Nova does: hmac.new(secret, instance_id, hashlib.sha256).hexdigest()
    expect(instanceIdSignature(Buffer.from("s3cret"), "instance-1")).toBe("80610a3a6649a87c1b3e5df90c22509c6203183d8880bdeb7f5fb05d15ce2f6f");
    const sig = instanceIdSignature(Buffer.from("s3cret"), A);
    expect(sig).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyInstanceIdSignature(Buffer.from("s3cret"), A, sig)).toBe(true);
    expect(verifyInstanceIdSignature(Buffer.from("s3cret"), A, sig.toUpperCase())).toBe(true);
    expect(verifyInstanceIdSignature(Buffer.from("s3cret"), B, sig)).toBe(false);
    expect(verifyInstanceIdSignature(Buffer.from("other"), A, sig)).toBe(false);
    expect(verifyInstanceIdSignature(Buffer.from("s3cret"), A, "")).toBe(false);
  });
});

describe("IMDSv2 tokens", () => {
  const now = Date.UTC(2026, 0, 1);
  it("are valid for their VM until they expire", () => {
    const t = mintImdsToken(secret, A, 60, now);
    expect(checkImdsToken(secret, A, t, now)).toBe("valid");
    expect(checkImdsToken(secret, A, t, now + 59_999)).toBe("valid");
    expect(checkImdsToken(secret, A, t, now + 60_000)).toBe("expired");
  });
  it("are refused for another VM, under another secret, or when altered", () => {
    const t = mintImdsToken(secret, A, 60, now);
    expect(checkImdsToken(secret, B, t, now)).toBe("invalid");
    expect(checkImdsToken(other, A, t, now)).toBe("invalid");
    const [expiry, mac] = t.split(".") as [string, string];
    // Extending the expiry breaks the MAC.
    expect(checkImdsToken(secret, A, `${Number(expiry) + 3600}.${mac}`, now)).toBe("invalid");
    expect(checkImdsToken(secret, A, "", now)).toBe("invalid");
    expect(checkImdsToken(secret, A, seedToken(secret, A), now)).toBe("invalid");
  });
});

describe("agent enrollment", () => {
  it("derives the WebSocket URL from the public URL", () => {
    expect(agentUrl("http://meta.example:8775")).toBe("ws://meta.example:8775/v1/agent");
    expect(agentUrl("https://meta.example/base/")).toBe("wss://meta.example/base/v1/agent");
    expect(() => agentUrl("ftp://x/")).toThrow(/http/);
    expect(agentEnrollment(secret, A, "http://h:1/")).toEqual({ url: "ws://h:1/v1/agent", credential: agentCredential(secret, A) });
  });
});
