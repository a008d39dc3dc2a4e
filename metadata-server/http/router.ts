// Routing: the request target is normalised strictly (anything that could address a different
// file than it names is refused rather than resolved), then matched against a declarative table.
// Handlers return values ({status, headers, body}); only server.ts writes to sockets.
import type { IncomingHttpHeaders } from "node:http";

export type ListenerRole = "guest" | "operator";

export interface NormalisedPath {
  /** Decoded segments; "/a/b/" -> ["a", "b"]. */
  segments: string[];
  /** Whether the path ended in "/" (EC2 and OpenStack distinguish directory listings this way). */
  trailingSlash: boolean;
}

export type PathRejection = { status: 400; reason: string };

const HEX = /^[0-9a-fA-F]{2}$/;

/**
 * Splits and decodes a request target. Refuses, instead of resolving: "." and ".." segments
 * (also when percent-encoded), encoded "/" and "\" (which would turn one segment into two),
 * empty segments ("//"), NUL and other control characters, and targets that are not
 * origin-form ("http://host/..." or "*").
 */
export function normalisePath(target: string | undefined): NormalisedPath | PathRejection {
  if (!target || target[0] !== "/") return { status: 400, reason: "not-origin-form" };
  const q = target.indexOf("?");
  const raw = q >= 0 ? target.slice(0, q) : target;
  if (raw.includes("\\")) return { status: 400, reason: "backslash" };
  if (raw === "/") return { segments: [], trailingSlash: true };
  const parts = raw.slice(1).split("/");
  const trailingSlash = parts[parts.length - 1] === "";
  if (trailingSlash) parts.pop();
  const segments: string[] = [];
  for (const part of parts) {
    if (part === "") return { status: 400, reason: "empty-segment" };
    let decoded = part;
    if (part.includes("%")) {
      for (let i = part.indexOf("%"); i >= 0; i = part.indexOf("%", i + 1)) {
        const hex = part.slice(i + 1, i + 3);
        if (!HEX.test(hex)) return { status: 400, reason: "bad-percent-encoding" };
        const byte = parseInt(hex, 16);
        if (byte === 0x2f || byte === 0x5c) return { status: 400, reason: "encoded-separator" };
      }
      try {
        decoded = decodeURIComponent(part);
      } catch {
        return { status: 400, reason: "bad-percent-encoding" };
      }
    }
    if (decoded === "." || decoded === "..") return { status: 400, reason: "dot-segment" };
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(decoded)) return { status: 400, reason: "control-character" };
    segments.push(decoded);
  }
  return { segments, trailingSlash };
}

export function isRejection(p: NormalisedPath | PathRejection): p is PathRejection {
  return "reason" in p;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Why a request was refused, for logs and metrics; never sent to the client. */
  denied?: string;
  /** VM the reply is for, for the access log. */
  vm?: string;
}

export interface RouteRequest<C> {
  method: string;
  path: NormalisedPath;
  headers: IncomingHttpHeaders;
  /** The TCP peer address as the socket reports it. */
  peer: string | undefined;
  /** The local address the connection was accepted on. */
  local?: string | undefined;
  ctx: C;
}

export interface Route<C> {
  /** Stable label for metrics and logs; never the raw path (seed tokens are secrets). */
  name: string;
  /** Methods the route answers; HEAD is implied by GET. */
  methods: readonly string[];
  /** Listeners on which the route exists at all. */
  roles: readonly ListenerRole[];
  match(path: NormalisedPath): Record<string, string> | undefined;
  handle(req: RouteRequest<C>, params: Record<string, string>): Reply;
  /**
   * For an operator route, the answer when the operator check refuses the request; by default
   * 403. "/" uses it to give guests EC2's version list instead of the console.
   */
  refused?(req: RouteRequest<C>, params: Record<string, string>, why: string): Reply;
}

/**
 * The operator check the router runs before every operator-only route (one whose roles do not
 * include "guest"): a reason to refuse the request, or undefined to let it through.
 */
export type OperatorCheck<C> = (req: RouteRequest<C>) => string | undefined;

export interface RouteResult { route: string; reply: Reply }

export const TEXT = { "content-type": "text/plain; charset=utf-8" };
export const JSON_TYPE = { "content-type": "application/json" };

/** A JSON reply as the operator API writes them: indented, one trailing newline. */
export const json = (value: unknown, status = 200): Reply => ({ status, headers: JSON_TYPE, body: JSON.stringify(value, null, 2) + "\n" });

/** The operator check's refusal: the same answer on every operator route. */
export const forbidden = (denied: string): Reply => ({ ...json({ error: "forbidden" }, 403), denied });

export function notFound(denied?: string): Reply {
  return { status: 404, headers: TEXT, body: "Not Found\n", ...(denied ? { denied } : {}) };
}

export class Router<C> {
  /** Per route, the methods it answers (GET implies HEAD), worked out once rather than per request. */
  private readonly allowed: readonly string[][];
  /** Per route, whether it is operator-only and so passes the operator check first. */
  private readonly operatorOnly: readonly boolean[];

  constructor(private readonly routes: readonly Route<C>[], private readonly operatorCheck: OperatorCheck<C>) {
    this.allowed = routes.map((r) => (r.methods.includes("GET") ? [...r.methods, "HEAD"] : [...r.methods]));
    this.operatorOnly = routes.map((r) => !r.roles.includes("guest"));
  }

  /** Routes a request on a listener with the given roles; routes of other roles do not exist there. */
  route(roles: readonly ListenerRole[], method: string, target: string | undefined, headers: IncomingHttpHeaders, peer: string | undefined, ctx: C, local?: string): RouteResult {
    const path = normalisePath(target);
    if (isRejection(path)) return { route: "rejected", reply: { status: 400, headers: TEXT, body: "Bad Request\n", denied: path.reason } };
    for (let i = 0; i < this.routes.length; i++) {
      const r = this.routes[i]!;
      if (!r.roles.some((role) => roles.includes(role))) continue;
      const params = r.match(path);
      if (!params) continue;
      const allowed = this.allowed[i]!;
      if (!allowed.includes(method)) {
        return { route: r.name, reply: { status: 405, headers: { ...TEXT, allow: allowed.join(", ") }, body: "Method Not Allowed\n", denied: "method" } };
      }
      const req: RouteRequest<C> = { method, path, headers, peer, local, ctx };
      if (this.operatorOnly[i]) {
        const why = this.operatorCheck(req);
        if (why !== undefined) return { route: r.name, reply: r.refused ? r.refused(req, params, why) : forbidden(why) };
      }
      return { route: r.name, reply: r.handle(req, params) };
    }
    return { route: "unmatched", reply: notFound("no-route") };
  }
}

/** A matcher for fixed segments with ":name" parameters and an optional "*rest" tail. */
export function pattern(spec: string, opts: { trailingSlash?: "any" | "required" | "forbidden" } = {}): (p: NormalisedPath) => Record<string, string> | undefined {
  const want = spec.split("/").filter((s) => s.length > 0);
  const rest = want[want.length - 1]?.startsWith("*") ? want.pop()!.slice(1) : undefined;
  const slash = opts.trailingSlash ?? "any";
  return (p) => {
    if (rest === undefined ? p.segments.length !== want.length : p.segments.length < want.length) return undefined;
    if (slash === "required" && !p.trailingSlash && rest === undefined) return undefined;
    if (slash === "forbidden" && p.trailingSlash) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < want.length; i++) {
      const w = want[i]!;
      const s = p.segments[i]!;
      if (w.startsWith(":")) params[w.slice(1)] = s;
      else if (w !== s) return undefined;
    }
    if (rest !== undefined) params[rest] = p.segments.slice(want.length).join("/");
    return params;
  };
}
