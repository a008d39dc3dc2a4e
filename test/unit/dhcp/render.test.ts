// The renderers' content (the programs' own checks run in test/integration/dhcp/render.test.ts).
import { describe, expect, it } from "vitest";
import { buildDhcpPlan } from "../../../metadata-server/dhcp/plan.ts";
import { renderDnsmasq } from "../../../metadata-server/render/dnsmasq.ts";
import { renderRadvd } from "../../../metadata-server/render/radvd.ts";
import { LAN_MAC, SECOND_MAC, site } from "./fixtures.ts";

describe("dnsmasq renderer", () => {
  const text = renderDnsmasq(buildDhcpPlan(site(1442)), { interfaces: { lan: "br-lan" } });

  it("forces option 26 and 121 for every client, with the plan's MTU", () => {
    expect(text).toContain("dhcp-option-force=tag:gl-lan,option:mtu,1442");
    expect(text).toContain("classless-static-route,198.51.100.0/24,192.0.2.254,0.0.0.0/0,192.0.2.1");
  });

  it("reserves DHCP NICs only, and withholds the router from a NIC without the default route", () => {
    expect(text).toContain(`dhcp-host=${LAN_MAC},set:gl-lan-r0,192.0.2.10,web1`);
    expect(text).toContain(`dhcp-host=${SECOND_MAC},set:gl-lan-r1,192.0.2.11,db1`);
    expect(text).toContain("dhcp-option=tag:gl-lan-r1,option:router\n");
    expect(text).not.toContain("02:00:00:00:00:12");
    expect(text).toContain("dhcp-range=set:gl-lan,192.0.2.0,static,255.255.255.0,3600");
  });

  it("announces the MTU in RAs and serves the dynamic range to unknown clients", () => {
    expect(text).toContain("ra-param=br-lan,mtu:1442,600,1800");
    expect(text).toContain("dhcp-range=set:gl-pool,198.51.100.100,198.51.100.103,255.255.255.0,600");
    expect(text).toContain("tag-if=set:gl-pool-dyn,tag:gl-pool,tag:!known");
  });

  it("leaves the RA MTU out below 1280", () => {
    expect(renderDnsmasq(buildDhcpPlan(site(1200)), { interfaces: { lan: "br-lan" } })).toContain("ra-param=br-lan,600,1800");
  });
});

describe("radvd renderer", () => {
  it("writes flags, MTU, prefix, RDNSS and DNSSL from the plan", () => {
    const text = renderRadvd(buildDhcpPlan(site(9000)), { interfaces: { lan: "br-lan" } });
    expect(text).toContain("interface br-lan {");
    expect(text).toContain("AdvLinkMTU 9000;");
    expect(text).toContain("prefix 2001:db8:1::/64 {");
    expect(text).toContain("AdvAutonomous on;");
    expect(text).toContain("RDNSS 2001:db8:1::53 {");
    expect(text).toContain("DNSSL example.test lab.example.test {");
    expect(text).not.toContain("interface pool"); // no IPv6 on that network
  });
});
