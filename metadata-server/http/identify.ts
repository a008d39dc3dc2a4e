// Which VM a request is for, from facts the requester cannot forge: the TCP peer address. Headers
// that name a different client (X-Forwarded-For, Neutron's X-Instance-ID) count only when the peer
// is a configured trusted proxy, and an instance assertion must carry a valid HMAC signature.
// Pure: the snapshot, the peer address and the headers come in; a decision comes out.
import type { IncomingHttpHeaders } from "node:http";
import type { ResolvedVm } from "../model/types.ts";
import type { SiteSnapshot } from "../site-store.ts";
import { canonicalAddress } from "./address.ts";
import { verifyInstanceIdSignature } from "../state/tokens.ts";

export interface IdentifyConfig {
  /** Canonical addresses of proxies whose forwarding headers are believed. Empty by default. */
  trustedProxies: ReadonlySet<string>;
  /** Shared secret for X-Instance-ID-Signature (Neutron's metadata_proxy_shared_secret); unset = not accepted. */
  proxySharedSecret?: Uint8Array;
}

export type Identity =
  | { vm: ResolvedVm; via: "source" | "forwarded-for" | "signed-instance"; address: string }
  | { vm?: undefined; status: 403 | 404; reason: IdentifyFailure; address: string | undefined };

export type IdentifyFailure =
  | "no-site"            // no inventory loaded yet
  | "unknown-address"    // the address belongs to no VM (or to two)
  | "bad-signature"      // a trusted proxy sent an instance id whose signature does not verify
  | "unknown-instance"   // a correctly signed id that names no VM
  | "unsigned-instance"; // a trusted proxy sent X-Instance-ID without signature or with no secret configured

export const FORWARDED_FOR = "x-forwarded-for";
export const INSTANCE_ID = "x-instance-id";
export const INSTANCE_ID_SIGNATURE = "x-instance-id-signature";

export function parseTrustedProxies(list: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const p of list) {
    const c = canonicalAddress(p);
    if (!c) throw new Error(`trusted proxy ${JSON.stringify(p)} is not an IP address`);
    out.add(c);
  }
  return out;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

/**
 * The client address a trusted proxy reports: the right-most X-Forwarded-For entry that is not
 * itself a trusted proxy (entries further left were written by the client and prove nothing).
 */
export function forwardedClient(value: string, trusted: ReadonlySet<string>): string | undefined {
  const hops = value.split(",").map((h) => h.trim()).filter((h) => h.length > 0);
  for (let i = hops.length - 1; i >= 0; i--) {
    const c = canonicalAddress(hops[i]);
    if (!c) return undefined; // a malformed hop: trust nothing from this header
    if (!trusted.has(c)) return c;
  }
  return undefined;
}

export function identify(snapshot: SiteSnapshot | undefined, peer: string | undefined, headers: IncomingHttpHeaders, config: IdentifyConfig): Identity {
  const peerAddress = canonicalAddress(peer);
  if (!snapshot) return { status: 404, reason: "no-site", address: peerAddress };
  let address = peerAddress;
  let via: "source" | "forwarded-for" = "source";
  if (peerAddress !== undefined && config.trustedProxies.has(peerAddress)) {
    const instanceId = header(headers, INSTANCE_ID);
    if (instanceId !== undefined) {
      const signature = header(headers, INSTANCE_ID_SIGNATURE);
      if (!config.proxySharedSecret || signature === undefined) return { status: 403, reason: "unsigned-instance", address: peerAddress };
      if (!verifyInstanceIdSignature(config.proxySharedSecret, instanceId, signature)) return { status: 403, reason: "bad-signature", address: peerAddress };
      const vm = snapshot.vmById(instanceId);
      return vm ? { vm, via: "signed-instance", address: peerAddress } : { status: 404, reason: "unknown-instance", address: peerAddress };
    }
    const forwarded = header(headers, FORWARDED_FOR);
    if (forwarded !== undefined) {
      address = forwardedClient(forwarded, config.trustedProxies);
      via = "forwarded-for";
    }
  }
  const vm = address === undefined ? undefined : snapshot.vmByAddress(address);
  return vm && address ? { vm, via, address } : { status: 404, reason: "unknown-address", address };
}

/**
 * Headers that say a request went through a forwarding hop or claim another client: ours
 * (X-Forwarded-For, X-Instance-ID) and the other spellings proxies write (RFC 7239 Forwarded,
 * nginx's customary X-Real-IP).
 */
export const FORWARDING_HEADERS = [FORWARDED_FOR, INSTANCE_ID, "forwarded", "x-real-ip"] as const;

/** True when the peer is not a trusted proxy but still sent a header that claims another client. */
export function hasUntrustedForwarding(peer: string | undefined, headers: IncomingHttpHeaders, config: IdentifyConfig): boolean {
  const p = canonicalAddress(peer);
  if (p !== undefined && config.trustedProxies.has(p)) return false;
  return FORWARDING_HEADERS.some((h) => headers[h] !== undefined);
}
