// Real clients against our server: ISC dhclient, busybox udhcpc, dhcpcd, rdisc6 and the kernel's
// SLAAC, each in a guest namespace joined to the server's namespace by a veth pair (MTU 9000),
// for network MTUs 1400, 1442 and 9000. Each client must end up with its reserved address, the
// router, DNS, the option-121 route and the MTU, applied the way that client applies it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { NetnsPair, mustRun, requirePrograms } from "../../helpers/netns.ts";
import { site } from "../../unit/dhcp/fixtures.ts";
import {
  ServerProcess, guestV4, resetGuest, runDhclient, runDhcpcd, runRdisc6, runUdhcpc, stateDir, waitSlaac, writeJson,
} from "./clients.ts";

const GUEST_MAC = "02:00:00:00:00:10";
const RESERVED = "192.0.2.10";
const LINK_MTU = 9000;
const PREFIX = "2001:db8:1::/64";

describe.each([1400, 1442, 9000])("real clients, network MTU %i", (mtu) => {
  const pair = new NetnsPair();
  const dir = stateDir(`mtu${mtu}`);
  let server: ServerProcess;

  beforeAll(async () => {
    await requirePrograms(["ip", "dhclient", "udhcpc", "dhcpcd", "rdisc6", "unshare", "/sbin/dhclient-script"]);
    await pair.create({ mtu: LINK_MTU, guestMac: GUEST_MAC, hostAddresses: ["192.0.2.1/24", "2001:db8:1::1/64"] });
    const sitePath = join(dir, "site.json");
    writeJson(sitePath, site(mtu));
    server = await ServerProcess.startJson(pair, sitePath, `${pair.hostIf}=lan`);
  });

  afterAll(async () => {
    await pair.cleanup();
  });

  it("dhclient gets the reservation, router, DNS, option-121 route and sets the link MTU", async () => {
    await resetGuest(pair, LINK_MTU);
    const d = join(dir, "dhclient");
    const r = await runDhclient(pair, d);
    expect(r.code, r.stderr).toBe(0);
    const s = await guestV4(pair, d);
    expect(s.address).toBe(RESERVED);
    expect(s.prefixLength).toBe(24);
    expect(s.gateway).toBe("192.0.2.1");
    expect(s.routes).toContainEqual(expect.objectContaining({ dst: "198.51.100.0/24", gateway: "192.0.2.254" }));
    expect(s.dns).toContain("192.0.2.53");
    expect(s.linkMtu).toBe(mtu);
  });

  it("udhcpc applies option 26 to the link without asking for it (-O mtu not given)", async () => {
    await resetGuest(pair, LINK_MTU);
    const d = join(dir, "udhcpc");
    const r = await runUdhcpc(pair, d);
    expect(r.code, r.stderr).toBe(0);
    const s = await guestV4(pair, d);
    expect(s.address).toBe(RESERVED);
    expect(s.gateway).toBe("192.0.2.1");
    expect(s.dns).toContain("192.0.2.53");
    expect(s.linkMtu).toBe(mtu);
  });

  it("dhcpcd gets the reservation, follows option 121 and puts the MTU on every route", async () => {
    await resetGuest(pair, LINK_MTU);
    const d = join(dir, "dhcpcd");
    const r = await runDhcpcd(pair, d);
    expect(r.code, r.stderr).toBe(0);
    const s = await guestV4(pair, d);
    expect(s.address).toBe(RESERVED);
    expect(s.gateway).toBe("192.0.2.1");
    expect(s.routes).toContainEqual(expect.objectContaining({ dst: "198.51.100.0/24", gateway: "192.0.2.254" }));
    expect(s.dns).toContain("192.0.2.53");
    const dhcpRoutes = s.routes.filter((x) => x.gateway);
    expect(dhcpRoutes.length).toBeGreaterThanOrEqual(2);
    for (const route of dhcpRoutes) expect(route.mtu, JSON.stringify(route)).toBe(mtu);
  });

  it("rdisc6 sees the RA MTU, prefix, flags and RDNSS", async () => {
    await resetGuest(pair, LINK_MTU);
    const ra = await runRdisc6(pair);
    expect(ra.mtu, ra.raw).toBe(mtu);
    expect(ra.prefix).toBe(PREFIX);
    expect(ra.managed).toBe("No");
    expect(ra.other).toBe("No");
    expect(ra.rdnss).toContain("2001:db8:1::53");
  });

  it("kernel SLAAC takes the IPv6 MTU from the RA and configures an address in the prefix", async () => {
    await resetGuest(pair, LINK_MTU);
    // Start from the IPv6 minimum so the RA's value is visible even when it equals the link MTU.
    await mustRun("ip", ["netns", "exec", pair.guestNs, "sysctl", "-qw", `net.ipv6.conf.${pair.guestIf}.mtu=1280`]);
    await runRdisc6(pair); // a solicitation; the kernel processes the RA it brings, too
    const s = await waitSlaac(pair, PREFIX, mtu);
    expect(s.ipv6Mtu).toBe(mtu);
    expect(s.address).toBe("2001:db8:1::ff:fe00:10"); // modified EUI-64 of the guest MAC
    expect(s.defaultRouter).toMatch(/^fe80:/);
  });

  it("served every exchange without dying and logged the ACKs", () => {
    expect(server.alive).toBe(true);
    expect(server.events("ack").length).toBeGreaterThanOrEqual(3);
    expect(server.events("rogue-dhcp-server")).toEqual([]);
  });
});
