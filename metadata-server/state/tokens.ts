// Secrets derived from the server secret. Pure: the secret and the clock come in as arguments.
// Each purpose has its own HMAC domain string, so a value minted for one purpose (a seed token)
// is never accepted for another (an agent credential, an IMDSv2 token).
import * as crypto from "node:crypto";
import { createHmac, timingSafeEqual } from "node:crypto";

const SEED_TOKEN_DOMAIN = "guestlink seed-token v1\0";
const AGENT_CREDENTIAL_DOMAIN = "guestlink agent-credential v1\0";
const IMDS_TOKEN_DOMAIN = "guestlink imds-token v1\0";

function hmac(key: Uint8Array, ...parts: string[]): Buffer {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * The NoCloud-net seed token of a VM: 256 bits an attacker cannot guess without the server
 * secret, and stable across restarts and inventory edits (it depends on the VM id only), so a
 * seed URL written into SMBIOS once keeps working.
 */
export function seedToken(secret: Uint8Array, vmId: string): string {
  return hmac(secret, SEED_TOKEN_DOMAIN, vmId.toLowerCase()).toString("base64url");
}

/** The credential the in-guest agent presents when it reports; delivered only in its own vendor-data. */
export function agentCredential(secret: Uint8Array, vmId: string): string {
  return hmac(secret, AGENT_CREDENTIAL_DOMAIN, vmId.toLowerCase()).toString("base64url");
}

/** Seed tokens have this shape; anything else is rejected before any lookup. */
export const SEED_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Key under which a token is indexed. Looking up a hash instead of the token itself means that
 * whatever a hash-table lookup's timing reveals is about the hash, not about a valid token.
 */
export function tokenIndexKey(token: string): string {
  return sha256Base64url(token);
}

// This runs on every NoCloud request: use the one-shot crypto.hash where the runtime has it
// (Node >= 20.12), the streaming API before that.
const sha256Base64url: (text: string) => string = typeof crypto.hash === "function"
  ? (text) => crypto.hash("sha256", text, "base64url")
  : (text) => crypto.createHash("sha256").update(text).digest("base64url");

/** Compares two secrets in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    // Still spend a comparison, so a length mismatch is not faster than a content mismatch.
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

// ---------------------------------------------------------------- signed instance header (Neutron)

/**
 * Neutron's metadata proxy asserts the instance with X-Instance-ID and X-Instance-ID-Signature:
 * the hex HMAC-SHA256 of the instance id under metadata_proxy_shared_secret. Nova checks it the
 * same way; so do we.
 */
export function instanceIdSignature(sharedSecret: Uint8Array, instanceId: string): string {
  return createHmac("sha256", sharedSecret).update(instanceId).digest("hex");
}

export function verifyInstanceIdSignature(sharedSecret: Uint8Array, instanceId: string, signature: string): boolean {
  return constantTimeEqual(instanceIdSignature(sharedSecret, instanceId), signature.toLowerCase());
}

// --------------------------------------------------------------------------- IMDSv2 session tokens

/** TTL bounds of PUT /latest/api/token, as on AWS. */
export const IMDS_TOKEN_TTL_MIN = 1;
export const IMDS_TOKEN_TTL_MAX = 21600;

/**
 * An IMDSv2 token: "<expiry seconds>.<mac>", where the MAC covers the VM id and the expiry.
 * Stateless (nothing to store or expire), and bound to the VM that asked for it: another VM
 * presenting it computes a different MAC and is refused.
 */
export function mintImdsToken(secret: Uint8Array, vmId: string, ttlSeconds: number, nowMs: number): string {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  return `${expiry}.${hmac(secret, IMDS_TOKEN_DOMAIN, vmId.toLowerCase(), "\0", String(expiry)).toString("base64url")}`;
}

export type ImdsTokenCheck = "valid" | "expired" | "invalid";

export function checkImdsToken(secret: Uint8Array, vmId: string, token: string, nowMs: number): ImdsTokenCheck {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return "invalid";
  const expected = hmac(secret, IMDS_TOKEN_DOMAIN, vmId.toLowerCase(), "\0", m[1]!).toString("base64url");
  if (!constantTimeEqual(expected, m[2]!)) return "invalid";
  return Number(m[1]) * 1000 > nowMs ? "valid" : "expired";
}
