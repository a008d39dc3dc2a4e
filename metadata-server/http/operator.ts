// The one operator check: who may use the operator side of the server. The router runs it before
// every operator route, and the WebSocket upgrade runs it before the console's event stream, so
// there is no operator answer it does not guard. Pure: the peer, the address the connection was
// accepted on, the request's Host and Origin, and what the site says about addresses come in;
// a refusal reason (or none) comes out.
//
// In order:
// 1. A trusted proxy's traffic is guest traffic: it is refused whatever its forwarding headers
//    say (they name guests; a guest writes them too).
// 2. A peer that is a guest address (also one two VMs claim) is refused.
// 3. Host must name us: a loopback name or address, the address the listener accepted the
//    connection on, or a configured operator host. Anything else is a page whose name was made to
//    resolve to us (DNS rebinding); a missing Host is refused too.
// 4. On a WebSocket upgrade, an Origin that is sent (browsers always send one) must be the
//    console's own origin, http://<Host>: a page elsewhere must not read the live feed.
import type { IncomingHttpHeaders } from "node:http";
import type { SiteSnapshot } from "../site-store.ts";
import { canonicalAddress } from "./address.ts";
import type { ServiceContext } from "./context.ts";

export type OperatorRefusal =
  | "trusted-proxy-peer"     // the peer is a configured trusted proxy: guest traffic
  | "guest-on-operator-api"  // the peer is a guest's address (or one two VMs claim)
  | "host-missing"           // no Host header (or more than one)
  | "host-not-allowed"       // Host names a host that is not ours
  | "origin-not-allowed";    // a WebSocket upgrade whose Origin is not http://<Host>

export interface OperatorAccess {
  /** Canonical addresses of the trusted proxies. */
  trustedProxies: ReadonlySet<string>;
  /** Further names and addresses the operator reaches the server by (lower case, addresses canonical). */
  operatorHosts: ReadonlySet<string>;
  /** Whether an address belongs to a guest of the current site (ambiguous addresses included). */
  isGuestAddress: (address: string) => boolean;
}

export interface OperatorRequest {
  /** The TCP peer, as the socket reports it. */
  peer: string | undefined;
  /** The local address the listener accepted the connection on. */
  local: string | undefined;
  headers: IncomingHttpHeaders;
  /** A WebSocket upgrade: Origin is checked as well. */
  upgrade: boolean;
}

const AUTHORITY = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/@\s]+))(?::(\d{1,5}))?$/;

/** The host part of a Host header (brackets removed, lower case), or undefined when it is not host[:port]. */
export function hostOf(value: string): string | undefined {
  const m = AUTHORITY.exec(value);
  return m ? (m[1] ?? m[2]!).toLowerCase() : undefined;
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.");
}

/** Normalises a configured operator host: a name in lower case, or an address in canonical spelling. */
export function operatorHostKey(name: string): string | undefined {
  const host = hostOf(name.includes(":") && !name.startsWith("[") ? `[${name}]` : name);
  if (host === undefined) return undefined;
  return canonicalAddress(host) ?? host;
}

/** Whether a Host header's host is one the operator side answers to. */
export function isOperatorHost(host: string, local: string | undefined, access: Pick<OperatorAccess, "operatorHosts">): boolean {
  const address = canonicalAddress(host);
  if (address === undefined) return host === "localhost" || access.operatorHosts.has(host);
  return isLoopback(address) || address === canonicalAddress(local) || access.operatorHosts.has(address);
}

export function operatorRefusal(req: OperatorRequest, access: OperatorAccess): OperatorRefusal | undefined {
  const peer = canonicalAddress(req.peer);
  if (peer !== undefined && access.trustedProxies.has(peer)) return "trusted-proxy-peer";
  if (peer !== undefined && access.isGuestAddress(peer)) return "guest-on-operator-api";
  const hostHeader = req.headers.host;
  if (typeof hostHeader !== "string" || hostHeader === "") return "host-missing";
  const host = hostOf(hostHeader);
  if (host === undefined || !isOperatorHost(host, req.local, access)) return "host-not-allowed";
  if (req.upgrade) {
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, hostHeader)) return "origin-not-allowed";
  }
  return undefined;
}

/** Whether an Origin header is exactly http://<Host> (default ports and case normalised as URLs do). */
function sameOrigin(origin: string | string[], hostHeader: string): boolean {
  if (typeof origin !== "string") return false;
  try {
    const o = new URL(origin);
    return o.protocol === "http:" && o.origin === origin.toLowerCase().replace(/\/$/, "") && o.host === new URL(`http://${hostHeader}`).host;
  } catch {
    return false;
  }
}

/** Whether an address is a guest's in this snapshot: a VM's own, or one two VMs claim. */
export function isGuestAddress(snapshot: Pick<SiteSnapshot, "vmByAddress" | "ambiguousAddresses"> | undefined, address: string): boolean {
  return snapshot !== undefined && (snapshot.vmByAddress(address) !== undefined || snapshot.ambiguousAddresses.has(address));
}

/** The operator check with the server's own facts: its trusted proxies, operator hosts and current site. */
export function checkOperator(ctx: ServiceContext, req: OperatorRequest): OperatorRefusal | undefined {
  return operatorRefusal(req, {
    trustedProxies: ctx.identify.trustedProxies,
    operatorHosts: ctx.operatorHosts,
    isGuestAddress: (a) => isGuestAddress(ctx.snapshot, a),
  });
}
