import { describe, expect, it } from "vitest";
import { defaultStateDir, listenerPlan, ServeConfigSchema } from "../../../metadata-server/cli/serve.ts";
import { DEFAULT_HTTP_LIMITS } from "../../../metadata-server/http/server.ts";
import { DEFAULT_EVENT_LIMITS } from "../../../metadata-server/hub/events.ts";

describe("listener plan", () => {
  const parse = (c: Record<string, unknown>) => ServeConfigSchema.parse({ inventory: "x.yaml", ...c });

  it("listens on 127.0.0.1:8775 only by default, with the operator API there", () => {
    expect(listenerPlan(parse({}))).toEqual([{ host: "127.0.0.1", port: 8775, roles: ["operator", "guest"] }]);
  });

  it("keeps the operator API off non-loopback guest listeners", () => {
    expect(listenerPlan(parse({ listen: ["169.254.169.254:80", "[::1]:8775"] }))).toEqual([
      { host: "169.254.169.254", port: 80, roles: ["guest"] },
      { host: "::1", port: 8775, roles: ["operator", "guest"] },
    ]);
  });

  it("serves the operator API only on --api-listen when given", () => {
    expect(listenerPlan(parse({ listen: ["127.0.0.1:8775"], apiListen: ["127.0.0.1:9775"] }))).toEqual([
      { host: "127.0.0.1", port: 8775, roles: ["guest"] },
      { host: "127.0.0.1", port: 9775, roles: ["operator"] },
    ]);
  });
});

describe("configuration schema", () => {
  it("rejects unknown keys, bad addresses and silly limits", () => {
    expect(ServeConfigSchema.safeParse({ inventory: "x", listn: [] }).success).toBe(false);
    expect(ServeConfigSchema.safeParse({ inventory: "x", listen: ["8775"] }).success).toBe(false);
    expect(ServeConfigSchema.safeParse({ inventory: "x", listen: ["h:70000"] }).success).toBe(false);
    expect(ServeConfigSchema.safeParse({ inventory: "x", limits: { maxHeaderSize: 10 } }).success).toBe(false);
    expect(ServeConfigSchema.safeParse({ inventory: "x", limits: { maxConnection: 10 } }).success).toBe(false);
    expect(ServeConfigSchema.safeParse({ inventory: "x", publicUrl: "not a url" }).success).toBe(false);
  });

  it("takes operator host names and addresses, not URLs or ports, and event limits with defaults behind them", () => {
    expect(ServeConfigSchema.parse({ inventory: "x", operatorHosts: ["metadata.example.org", "192.0.2.1", "2001:db8::1"] }).operatorHosts).toHaveLength(3);
    for (const bad of ["http://metadata.example.org", "metadata.example.org:8775", "", "a b"]) {
      expect(ServeConfigSchema.safeParse({ inventory: "x", operatorHosts: [bad] }).success, bad).toBe(false);
    }
    expect(ServeConfigSchema.parse({ inventory: "x" })).toMatchObject({ operatorHosts: [], events: {} });
    expect(ServeConfigSchema.parse({ inventory: "x", events: { pingIntervalMs: 500, maxClientsPerAddress: 2 } }).events).toEqual({ pingIntervalMs: 500, maxClientsPerAddress: 2 });
    expect(ServeConfigSchema.safeParse({ inventory: "x", events: { maxClientsPerAdress: 2 } }).success).toBe(false);
    expect(ServeConfigSchema.safeParse({ inventory: "x", events: { pingIntervalMs: 0 } }).success).toBe(false);
    for (const [k, v] of Object.entries(DEFAULT_EVENT_LIMITS)) expect(v, k).toBeGreaterThan(0);
  });

  it("has a default for every limit", () => {
    for (const [k, v] of Object.entries(DEFAULT_HTTP_LIMITS)) expect(v, k).toBeGreaterThan(0);
    expect(ServeConfigSchema.parse({ inventory: "x" })).toMatchObject({ ec2: { requireToken: false }, nocloud: { crossCheckSource: true }, accessLog: false, watch: true });
  });
});

describe("default state directory", () => {
  it("prefers GUESTLINK_STATE_DIR, then systemd's STATE_DIRECTORY", () => {
    expect(defaultStateDir({ GUESTLINK_STATE_DIR: "/srv/gl", STATE_DIRECTORY: "/var/lib/guestlink" })).toEqual({ dir: "/srv/gl", local: false });
    expect(defaultStateDir({ STATE_DIRECTORY: "/var/lib/guestlink:/var/lib/other" })).toEqual({ dir: "/var/lib/guestlink", local: false });
  });
  it("falls back to the system directory if writable, else ./.guestlink-state", () => {
    const d = defaultStateDir({}, "/checkout");
    expect(["/var/lib/guestlink", "/checkout/.guestlink-state"]).toContain(d.dir);
    expect(d.local).toBe(d.dir === "/checkout/.guestlink-state");
  });
});
