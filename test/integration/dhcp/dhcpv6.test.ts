// DHCPv6 against ISC dhclient -6: stateless (INFORMATION-REQUEST, `dhclient -6 -S`) gets the DNS
// server and search list; stateful gets the reserved address. rdisc6 shows the matching M/O flags.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NetnsPair, mustRun, requirePrograms } from "../../helpers/netns.ts";
import { site } from "../../unit/dhcp/fixtures.ts";
import { ServerProcess, resetGuest, runRdisc6, stateDir, writeJson } from "./clients.ts";

describe.each(["dhcpv6-stateless", "dhcpv6-stateful"] as const)("DHCPv6 in %s mode", (mode) => {
  const pair = new NetnsPair();
  const dir = stateDir(mode);
  let server: ServerProcess;

  beforeAll(async () => {
    await requirePrograms(["ip", "dhclient", "rdisc6", "unshare"]);
    await pair.create({ mtu: 1500, guestMac: "02:00:00:00:00:10", hostAddresses: ["192.0.2.1/24", "2001:db8:1::1/64"] });
    const s = site(1442);
    s.networks[0]!.ipv6!.mode = mode;
    s.vms[0]!.interfaces[0]!.ipv6 = { method: mode, address: "2001:db8:1::10", prefixLength: 64, origin: "inventory" };
    const sitePath = join(dir, "site.json");
    writeJson(sitePath, s);
    server = await ServerProcess.startJson(pair, sitePath, `${pair.hostIf}=lan`);
    await server.waitEvent("dhcp6-started");
  });

  afterAll(async () => {
    await pair.cleanup();
  });

  it("announces the M and O flags for the mode", async () => {
    await resetGuest(pair, 1500);
    const ra = await runRdisc6(pair);
    expect(ra.managed, ra.raw).toBe(mode === "dhcpv6-stateful" ? "Yes" : "No");
    expect(ra.other).toBe("Yes");
    expect(ra.mtu).toBe(1442);
  });

  it("dhclient -6 -S gets the DNS server and search list by INFORMATION-REQUEST", async () => {
    await resetGuest(pair, 1500);
    const d = join(dir, "info");
    const r = await pair.inGuestIsolated(d, "dhclient", ["-6", "-S", "-1", "-v", "-lf", join(d, "leases"), "-pf", join(d, "pid"), pair.guestIf], { timeoutMs: 40_000 });
    expect(r.code, r.stderr).toBe(0);
    const resolv = readFileSync(join(d, "etc-upper", "resolv.conf"), "utf8");
    expect(resolv).toContain("nameserver 2001:db8:1::53");
    expect(resolv).toMatch(/search .*example\.test/);
  });

  if (mode === "dhcpv6-stateful") {
    it("dhclient -6 gets the reserved address", async () => {
      await resetGuest(pair, 1500);
      const d = join(dir, "stateful");
      const r = await pair.inGuestIsolated(d, "dhclient", ["-6", "-1", "-v", "-lf", join(d, "leases"), "-pf", join(d, "pid"), pair.guestIf], { timeoutMs: 40_000 });
      expect(r.code, r.stderr).toBe(0);
      const addrs = await mustRun("ip", ["-n", pair.guestNs, "-6", "addr", "show", "dev", pair.guestIf, "scope", "global"]);
      expect(addrs).toContain("2001:db8:1::10/");
      expect(server.events("dhcp6-reply").some((l) => l.address === "2001:db8:1::10")).toBe(true);
    });
  }
});
