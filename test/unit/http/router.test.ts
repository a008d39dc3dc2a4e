import { describe, expect, it } from "vitest";
import { isRejection, normalisePath, pattern, Router, type Route } from "../../../metadata-server/http/router.ts";

describe("normalisePath", () => {
  it("splits and decodes plain paths, remembering a trailing slash", () => {
    expect(normalisePath("/")).toEqual({ segments: [], trailingSlash: true });
    expect(normalisePath("/latest/meta-data/")).toEqual({ segments: ["latest", "meta-data"], trailingSlash: true });
    expect(normalisePath("/nocloud/abc/meta-data?x=1")).toEqual({ segments: ["nocloud", "abc", "meta-data"], trailingSlash: false });
    expect(normalisePath("/a%20b/c")).toEqual({ segments: ["a b", "c"], trailingSlash: false });
  });

  it.each([
    ["/a/../b", "dot-segment"],
    ["/a/./b", "dot-segment"],
    ["/a/%2e%2e/b", "dot-segment"],
    ["/a/%2E%2e/b", "dot-segment"],
    ["/a/%2e/b", "dot-segment"],
    ["/..", "dot-segment"],
    ["/a%2fb", "encoded-separator"],
    ["/a%2Fb", "encoded-separator"],
    ["/a%5cb", "encoded-separator"],
    ["/a\\b", "backslash"],
    ["//a", "empty-segment"],
    ["/a//b", "empty-segment"],
    ["/a/b//", "empty-segment"],
    ["/a%00b", "control-character"],
    ["/a%0ab", "control-character"],
    ["/a%zzb", "bad-percent-encoding"],
    ["/a%2", "bad-percent-encoding"],
    ["/a%ff", "bad-percent-encoding"],
    ["http://host/a", "not-origin-form"],
    ["*", "not-origin-form"],
    ["", "not-origin-form"],
  ])("refuses %j (%s)", (target, reason) => {
    const r = normalisePath(target);
    expect(isRejection(r) && r.reason).toBe(reason);
  });
});

describe("pattern", () => {
  const p = (t: string) => normalisePath(t) as { segments: string[]; trailingSlash: boolean };
  it("binds parameters and checks fixed segments", () => {
    expect(pattern("nocloud/:token/:doc")(p("/nocloud/t/meta-data"))).toEqual({ token: "t", doc: "meta-data" });
    expect(pattern("nocloud/:token/:doc")(p("/openstack/t/meta-data"))).toBeUndefined();
    expect(pattern("nocloud/:token/:doc")(p("/nocloud/t"))).toBeUndefined();
    expect(pattern("nocloud/:token/:doc")(p("/nocloud/t/a/b"))).toBeUndefined();
  });
  it("applies the trailing-slash rule", () => {
    expect(pattern("healthz", { trailingSlash: "forbidden" })(p("/healthz/"))).toBeUndefined();
    expect(pattern("healthz", { trailingSlash: "forbidden" })(p("/healthz"))).toEqual({});
    expect(pattern("v1/vms")(p("/v1/vms/"))).toEqual({});
  });
  it("collects a *rest tail", () => {
    expect(pattern("x/*rest")(p("/x/a/b/c"))).toEqual({ rest: "a/b/c" });
    expect(pattern("x/*rest")(p("/x"))).toEqual({ rest: "" });
  });
});

describe("Router", () => {
  const routes: Route<null>[] = [
    { name: "doc", methods: ["GET"], roles: ["guest"], match: pattern("doc/:id"), handle: (_r, { id }) => ({ status: 200, body: `doc ${id}` }) },
    { name: "token", methods: ["PUT"], roles: ["guest"], match: pattern("token"), handle: () => ({ status: 200, body: "t" }) },
    { name: "admin", methods: ["GET"], roles: ["operator"], match: pattern("admin"), handle: () => ({ status: 200, body: "admin" }) },
  ];
  const router = new Router(routes, () => undefined);
  const call = (role: "guest" | "operator", method: string, target: string) => router.route([role], method, target, {}, "127.0.0.1", null);

  it("runs the operator check before every operator-only route, and only there", () => {
    const seen: string[] = [];
    const guarded = new Router([...routes, {
      name: "root", methods: ["GET"], roles: ["operator"], match: (p) => (p.segments.length === 0 ? {} : undefined),
      handle: () => ({ status: 200, body: "console" }), refused: (_r, _p, why) => ({ status: 200, body: `guest answer (${why})` }),
    }], (req) => { seen.push(req.path.segments.join("/")); return req.peer === "127.0.0.1" ? undefined : "not-the-operator"; });
    expect(guarded.route(["operator"], "GET", "/admin", {}, "127.0.0.1", null).reply.body).toBe("admin");
    expect(guarded.route(["operator"], "GET", "/admin", {}, "127.0.0.9", null).reply).toMatchObject({ status: 403, denied: "not-the-operator" });
    expect(guarded.route(["operator", "guest"], "GET", "/doc/1", {}, "127.0.0.9", null).reply.status).toBe(200);
    // A route with its own answer to a refusal gives it instead of the 403.
    expect(guarded.route(["operator"], "GET", "/", {}, "127.0.0.9", null).reply.body).toBe("guest answer (not-the-operator)");
    expect(seen).toEqual(["admin", "admin", ""]);
  });

  it("dispatches GET and HEAD, and answers other methods with 405 and Allow", () => {
    expect(call("guest", "GET", "/doc/7").reply.body).toBe("doc 7");
    expect(call("guest", "HEAD", "/doc/7").reply.status).toBe(200);
    const post = call("guest", "POST", "/doc/7");
    expect(post.reply.status).toBe(405);
    expect(post.reply.headers?.allow).toBe("GET, HEAD");
    expect(call("guest", "GET", "/token").reply.headers?.allow).toBe("PUT");
    expect(call("guest", "PUT", "/token").reply.status).toBe(200);
  });

  it("hides routes of other listener roles (404, not 405)", () => {
    expect(call("guest", "GET", "/admin").reply.status).toBe(404);
    expect(call("guest", "POST", "/admin").reply.status).toBe(404);
    expect(call("operator", "GET", "/admin").reply.status).toBe(200);
    expect(call("operator", "GET", "/doc/1").reply.status).toBe(404);
    // A listener with both roles has both sets of routes.
    expect(router.route(["operator", "guest"], "GET", "/admin", {}, undefined, null).reply.status).toBe(200);
    expect(router.route(["operator", "guest"], "GET", "/doc/2", {}, undefined, null).reply.body).toBe("doc 2");
  });

  it("answers 400 for refused targets before any route runs, labelled 'rejected'", () => {
    const r = call("guest", "GET", "/doc/%2e%2e");
    expect(r).toMatchObject({ route: "rejected", reply: { status: 400, denied: "dot-segment" } });
    expect(call("guest", "GET", "/nothing").route).toBe("unmatched");
  });
});
