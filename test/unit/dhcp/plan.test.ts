import { describe, expect, it } from "vitest";
import { DhcpPlanSchema, buildDhcpPlan, networkDhcpDocument } from "../../../metadata-server/dhcp/plan.ts";
import { LAN_ADDRESS, LAN_MAC, SECOND_MAC, site } from "./fixtures.ts";

describe("DHCP/RA plan", () => {
  const plan = buildDhcpPlan(site(1442));
  const lan = plan.networks.find((n) => n.network === "lan")!;

  it("offers every option of the issue, with the MTU from the resolved network", () => {
    expect(lan.ipv4!.offeredOptions).toEqual([1, 3, 6, 12, 15, 26, 51, 54, 58, 59, 119, 121]);
    expect(lan.ipv4!.mtu).toBe(1442);
    expect(lan.mtu).toBe(1442);
    expect(lan.ipv4!.renewalTime).toBe(1800);
    expect(lan.ipv4!.rebindingTime).toBe(3150);
    expect(lan.ipv4!.dnsServers).toEqual(["192.0.2.53"]);
    expect(lan.ipv4!.broadcast).toBe("192.0.2.255");
  });

  it("puts the default route in option 121 too, and only on the NIC that carries it", () => {
    const web = lan.ipv4!.reservations.find((r) => r.mac === LAN_MAC)!;
    expect(web).toMatchObject({ address: LAN_ADDRESS, hostname: "web1", router: "192.0.2.1", mtu: 1442 });
    expect(web.classlessRoutes).toEqual([{ to: "198.51.100.0/24", via: "192.0.2.254" }, { to: "0.0.0.0/0", via: "192.0.2.1" }]);
    const db = lan.ipv4!.reservations.find((r) => r.mac === SECOND_MAC)!;
    expect(db.router).toBeUndefined();
    expect(db.classlessRoutes).toEqual([{ to: "198.51.100.0/24", via: "192.0.2.254" }]);
  });

  it("reserves only DHCP-addressed interfaces", () => {
    expect(lan.ipv4!.reservations.map((r) => r.mac)).toEqual([LAN_MAC, SECOND_MAC]);
  });

  it("omits option 119 without search domains and carries the dynamic range", () => {
    const pool = plan.networks.find((n) => n.network === "pool")!;
    expect(pool.ipv4!.offeredOptions).not.toContain(119);
    expect(pool.ipv4!.dynamicRange).toEqual({ start: "198.51.100.100", end: "198.51.100.103" });
    expect(pool.ipv6).toBeUndefined();
  });

  it.each([
    ["slaac", false, false, true],
    ["dhcpv6-stateless", false, true, true],
    ["dhcpv6-stateful", true, true, false],
    ["static", false, false, false],
  ] as const)("maps IPv6 mode %s to M=%s O=%s A=%s", (mode, m, o, a) => {
    const s = site();
    s.networks[0]!.ipv6!.mode = mode;
    const ra = buildDhcpPlan(s).networks[0]!.ipv6!.ra!;
    expect([ra.managed, ra.other, ra.prefixes[0]!.autonomous]).toEqual([m, o, a]);
    expect(ra.rdnss).toEqual(["2001:db8:1::53"]);
    expect(ra.dnssl).toEqual(["example.test", "lab.example.test"]);
  });

  it("never announces an RA MTU below 1280 but still sends option 26", () => {
    const n = buildDhcpPlan(site(1200)).networks[0]!;
    expect(n.ipv6!.ra!.mtu).toBeUndefined();
    expect(n.ipv4!.mtu).toBe(1200);
    expect(buildDhcpPlan(site(9000)).networks[0]!.ipv6!.ra!.mtu).toBe(9000);
  });

  it("does not advertise a default router without an IPv6 gateway", () => {
    const s = site();
    delete s.networks[0]!.ipv6!.gateway;
    expect(buildDhcpPlan(s).networks[0]!.ipv6!.ra!.routerLifetime).toBe(0);
    expect(buildDhcpPlan(site()).networks[0]!.ipv6!.ra!.routerLifetime).toBe(1800);
  });

  it("serves nothing over DHCPv4 on a network with dhcp off", () => {
    const s = site();
    s.networks[0]!.ipv4!.dhcp = false;
    expect(buildDhcpPlan(s).networks[0]!.ipv4).toBeUndefined();
  });

  it("validates its JSON form and serves one network document", () => {
    expect(DhcpPlanSchema.safeParse(JSON.parse(JSON.stringify(plan))).success).toBe(true);
    const doc = networkDhcpDocument(site(), "lan")!;
    expect(doc.network).toBe("lan");
    expect(doc.ipv6!.ra!.mtu).toBe(1442);
    expect(networkDhcpDocument(site(), "nope")).toBeUndefined();
    expect(DhcpPlanSchema.safeParse({ revision: "x", networks: [{ network: "a" }] }).success).toBe(false);
  });
});
