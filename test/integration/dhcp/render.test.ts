// The dnsmasq and radvd renderers, judged by the programs themselves: their config checks accept
// the output, and the same client checks that pass against our server pass against dnsmasq and
// radvd running the rendered configuration (reservation, router, option 121, MTU from option 26
// and from the RA).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildDhcpPlan } from "../../../metadata-server/dhcp/plan.ts";
import { renderDnsmasq } from "../../../metadata-server/render/dnsmasq.ts";
import { renderRadvd } from "../../../metadata-server/render/radvd.ts";
import { renderDhcpCommand } from "../../../metadata-server/cli/render-dhcp.ts";
import { NetnsPair, requirePrograms, run, waitFor } from "../../helpers/netns.ts";
import { site } from "../../unit/dhcp/fixtures.ts";
import { guestV4, repoRoot, resetGuest, runDhclient, runRdisc6, stateDir } from "./clients.ts";

const dir = stateDir("render");

async function renderCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await renderDhcpCommand(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

describe("render-dhcp output passes dnsmasq --test and radvd --configtest", () => {
  beforeAll(async () => {
    await requirePrograms(["dnsmasq", "radvd"]);
  });

  it.each([1200, 1442, 9000])("for the fixture site with MTU %i", async (mtu) => {
    const s = site(mtu);
    s.networks[1]!.ipv6 = { cidr: "2001:db8:2::/64", prefixLength: 64, mode: "dhcpv6-stateful", ra: true };
    const plan = buildDhcpPlan(s);
    const dnsmasqConf = join(dir, `dnsmasq-${mtu}.conf`);
    writeFileSync(dnsmasqConf, renderDnsmasq(plan, { interfaces: { lan: "eth-lan" } }));
    const d = await run("dnsmasq", ["--test", "-C", dnsmasqConf]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toContain("syntax check OK");
    const radvdConf = join(dir, `radvd-${mtu}.conf`);
    const text = renderRadvd(plan, { interfaces: { lan: "eth-lan" } });
    writeFileSync(radvdConf, text);
    const r = await run("radvd", ["--configtest", "-C", radvdConf]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("syntax ok");
    // An MTU below the IPv6 minimum is left out (radvd refuses it), never rounded up.
    expect(text).toContain(`AdvLinkMTU ${mtu < 1280 ? 0 : mtu};`);
  });

  it("the CLI renders the example inventory for both programs, and refuses bad calls", async () => {
    const inv = join(repoRoot, "examples", "inventory.yaml");
    for (const format of ["dnsmasq", "radvd"]) {
      const r = await renderCli([inv, "--format", format]);
      expect(r.code, r.err).toBe(0);
      const conf = join(dir, `example.${format}.conf`);
      writeFileSync(conf, r.out);
      const check = format === "dnsmasq" ? await run("dnsmasq", ["--test", "-C", conf]) : await run("radvd", ["--configtest", "-C", conf]);
      expect(check.code, check.stderr).toBe(0);
    }
    const one = await renderCli([inv, "--format", "dnsmasq", "--network", "tenant-a", "--interface", "tenant-a=tap-a"]);
    expect(one.out).toContain("dhcp-option-force=tag:gl-tenant-a,option:mtu,1442");
    expect(one.out).toContain("ra-param=tap-a,mtu:1442,");
    expect(one.out).not.toContain("gl-mgmt");
    expect((await renderCli([inv, "--format", "bind"])).code).toBe(2);
    expect((await renderCli([inv, "--format", "radvd", "--network", "nope"])).code).toBe(1);
  });
});

describe("dnsmasq and radvd running the rendered configuration serve what guestlink serves", () => {
  const pair = new NetnsPair();

  beforeAll(async () => {
    await requirePrograms(["ip", "dnsmasq", "radvd", "dhclient", "rdisc6", "unshare"]);
    await pair.create({ mtu: 9000, guestMac: "02:00:00:00:00:10", hostAddresses: ["192.0.2.1/24", "2001:db8:1::1/64"] });
    const plan = buildDhcpPlan(site(1442));
    plan.networks = plan.networks.filter((n) => n.network === "lan");
    const dnsmasqConf = join(dir, "live-dnsmasq.conf");
    // RAs come from radvd here, so dnsmasq's own RA part is left out of this run.
    const noRa = { ...plan, networks: plan.networks.map((n) => ({ ...n, ipv6: undefined })) };
    writeFileSync(dnsmasqConf, renderDnsmasq(noRa, { interfaces: { lan: pair.hostIf }, leaseFile: join(dir, "dnsmasq.leases") }));
    const radvdConf = join(dir, "live-radvd.conf");
    writeFileSync(radvdConf, renderRadvd(plan, { interfaces: { lan: pair.hostIf } }));
    await pair.inHost("sysctl", ["-qw", "net.ipv6.conf.all.forwarding=1"]);
    pair.spawnInHost("dnsmasq", ["-k", "-C", dnsmasqConf, "--pid-file=" + join(dir, "dnsmasq.pid"), "--log-facility=" + join(dir, "dnsmasq.log")]);
    pair.spawnInHost("radvd", ["-n", "-C", radvdConf, "-p", join(dir, "radvd.pid"), "-m", "stderr"]);
    const listening = await waitFor(async () => {
      const r = await pair.inHost("ss", ["-Hlun", "sport = :67"]);
      return r.stdout.trim() ? true : undefined;
    }, 10_000);
    expect(listening).toBe(true);
  });

  afterAll(async () => {
    await pair.cleanup();
  });

  it("dhclient gets the reservation, option-121 route and MTU 1442 from dnsmasq", async () => {
    await resetGuest(pair, 9000);
    const d = join(dir, "dhclient");
    const r = await runDhclient(pair, d);
    expect(r.code, r.stderr).toBe(0);
    const s = await guestV4(pair, d);
    expect(s.address).toBe("192.0.2.10");
    expect(s.gateway).toBe("192.0.2.1");
    expect(s.routes).toContainEqual(expect.objectContaining({ dst: "198.51.100.0/24", gateway: "192.0.2.254" }));
    expect(s.linkMtu).toBe(1442);
    expect(s.dns).toContain("192.0.2.53");
  });

  it("rdisc6 sees MTU 1442, the prefix and RDNSS from radvd", async () => {
    await resetGuest(pair, 9000);
    const ra = await waitFor(async () => { const x = await runRdisc6(pair); return x.mtu ? x : undefined; }, 15_000, 500);
    expect(ra?.mtu).toBe(1442);
    expect(ra?.prefix).toBe("2001:db8:1::/64");
    expect(ra?.rdnss).toContain("2001:db8:1::53");
  });
});
