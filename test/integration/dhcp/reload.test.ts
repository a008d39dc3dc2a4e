// Live inventory: `guestlink dhcp` reading YAML through the inventory loader, reloading on file
// change and on SIGHUP. A changed MTU reaches a client that renews (udhcpc sets the link MTU on
// every renew) and, through the RA sent at once on reload, the kernel's IPv6 MTU; a broken
// inventory is logged and the last good one keeps being served.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { loadSiteFile } from "../../../metadata-server/inventory/load.ts";
import { NetnsPair, mustRun, requirePrograms, waitFor } from "../../helpers/netns.ts";
import { site } from "../../unit/dhcp/fixtures.ts";
import { ServerProcess, guestV4, resetGuest, runRdisc6, runUdhcpc, slaacState, stateDir, writeJson } from "./clients.ts";

const MAC = "02:00:00:00:00:10";
const PREFIX = "2001:db8:1::/64";

function inventoryYaml(mtu: number): string {
  return `version: 1
site:
  name: dhcp-test
  domain: example.test
networks:
  - name: lan
    type: bridge
    mtu: ${mtu}
    ipv4:
      subnet: 192.0.2.0/24
      gateway: 192.0.2.1
    ipv6:
      prefix: ${PREFIX}
      gateway: 2001:db8:1::1
      mode: slaac
    dns:
      servers: [192.0.2.53, 2001:db8:1::53]
      search: [example.test]
    routes:
      - { to: 198.51.100.0/24, via: 192.0.2.254 }
vms:
  - id: 7c9e6679-7425-40de-944b-e07fc1f90ae7
    name: web1
    nics:
      - network: lan
        mac: "${MAC}"
        ipv4: { mode: dhcp, address: 192.0.2.10 }
`;
}

/** Replaces the file the way editors and config management do: write aside, rename over. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

describe("guestlink dhcp with a YAML inventory, reloaded on change", () => {
  const pair = new NetnsPair();
  const dir = stateDir("cli");
  const inventory = join(dir, "inventory.yaml");
  let server: ServerProcess;

  beforeAll(async () => {
    await requirePrograms(["ip", "udhcpc", "rdisc6", "unshare"]);
    await pair.create({ mtu: 9000, guestMac: MAC, hostAddresses: ["192.0.2.1/24", "2001:db8:1::1/64"] });
    writeFileSync(inventory, inventoryYaml(1400));
    server = await ServerProcess.startCli(pair, ["--inventory", inventory, "--interface", `${pair.hostIf}=lan`, "--log-level", "debug"]);
  });

  afterAll(async () => {
    await pair.cleanup();
  });

  it("serves the YAML inventory: udhcpc gets the reservation and MTU 1400, SLAAC too", async () => {
    await resetGuest(pair, 9000);
    await mustRun("ip", ["netns", "exec", pair.guestNs, "sysctl", "-qw", `net.ipv6.conf.${pair.guestIf}.mtu=1280`]);
    await runRdisc6(pair);
    const v6 = await waitFor(async () => { const s = await slaacState(pair, PREFIX); return s.ipv6Mtu === 1400 ? s : undefined; }, 10_000);
    expect(v6?.ipv6Mtu).toBe(1400);
    const r = await runUdhcpc(pair, join(dir, "u1"));
    expect(r.code, r.stderr).toBe(0);
    const s = await guestV4(pair);
    expect(s.address).toBe("192.0.2.10");
    expect(s.linkMtu).toBe(1400);
  });

  it("on a file change, serves the new MTU and sends an RA at once", async () => {
    // Put the guest's IPv6 MTU where only a new RA can move it, without soliciting one.
    await mustRun("ip", ["-n", pair.guestNs, "link", "set", pair.guestIf, "mtu", "9000"]);
    await mustRun("ip", ["netns", "exec", pair.guestNs, "sysctl", "-qw", `net.ipv6.conf.${pair.guestIf}.mtu=1280`]);
    replaceFile(inventory, inventoryYaml(1442));
    expect(await server.waitEvent("reloaded", (l) => l.why === "file-changed" && Array.isArray(l.raChanged) && l.raChanged.length === 1)).toBeDefined();
    expect(await server.waitEvent("ra-sent", (l) => l.why === "reload" && l.mtu === 1442)).toBeDefined();
    const v6 = await waitFor(async () => { const s = await slaacState(pair, PREFIX); return s.ipv6Mtu === 1442 ? s : undefined; }, 5000);
    expect(v6?.ipv6Mtu).toBe(1442);
    await resetGuest(pair, 9000);
    const r = await runUdhcpc(pair, join(dir, "u2"));
    expect(r.code, r.stderr).toBe(0);
    expect((await guestV4(pair)).linkMtu).toBe(1442);
  });

  it("logs a broken inventory and keeps serving the last good one", async () => {
    replaceFile(inventory, inventoryYaml(1442).replace("subnet: 192.0.2.0/24", "subnet: 192.0.2.0/33"));
    expect(await server.waitEvent("reload-rejected")).toBeDefined();
    await resetGuest(pair, 9000);
    const r = await runUdhcpc(pair, join(dir, "u3"));
    expect(r.code, r.stderr).toBe(0);
    expect((await guestV4(pair)).linkMtu).toBe(1442);
    expect(server.alive).toBe(true);
  });

  it("never serves an in-place write paused half-way, and serves the whole file once it settles", async () => {
    // The part before `vms:` is a valid inventory by itself: the network without its reservation.
    const full = inventoryYaml(1500);
    const cut = full.indexOf("vms:");
    const revisionOf = async (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return (await loadSiteFile(join(dir, name))).site!.revision;
    };
    const partial = await revisionOf("partial.yaml", full.slice(0, cut));
    const whole = await revisionOf("whole.yaml", full);
    const from = server.logLines.length;
    const fd = openSync(inventory, "w");
    try {
      writeSync(fd, full.slice(0, cut));
      await new Promise((r) => setTimeout(r, 400));
      server.hup(); // a reload asked for in the middle of the write, on top of the file's own change events
      await new Promise((r) => setTimeout(r, 300));
      writeSync(fd, full.slice(cut));
    } finally {
      closeSync(fd);
    }
    expect(await server.waitEvent("reloaded", (l) => l.revision === whole)).toBeDefined();
    const verdicts = server.logLines.slice(from).filter((l) => l.event === "reloaded" || l.event === "reload-rejected");
    expect(verdicts.map((l) => [l.event, l.revision])).toEqual([["reloaded", whole]]);
    expect(server.logLines.some((l) => l.revision === partial)).toBe(false);
  });
});

/**
 * How each client is started as a long-running daemon, and what "the renewal carried the new MTU"
 * looks like for it: udhcpc sets the link MTU on every renew; dhcpcd rebuilds its routes with the
 * new `mtu`; Debian's dhclient-script applies option 26 only on BOUND/REBOOT, so for dhclient the
 * renewed lease it recorded is the evidence.
 */
const renewingClients = {
  udhcpc: {
    args: (ifname: string) => ["udhcpc", ["-i", ifname, "-f", "-t", "5", "-T", "2", "-s", "/etc/udhcpc/default.script"]] as const,
    mtuOf: async (pair: NetnsPair) => (await guestV4(pair)).linkMtu,
  },
  dhcpcd: {
    args: (ifname: string) => ["dhcpcd", ["-4", "-B", "-d", "-t", "30", ifname]] as const,
    mtuOf: async (pair: NetnsPair) => (await guestV4(pair)).routes.find((r) => r.dst === "198.51.100.0/24")?.mtu,
  },
  dhclient: {
    args: (ifname: string, dir: string) => ["dhclient", ["-d", "-v", "-lf", join(dir, "leases"), "-pf", join(dir, "pid"), ifname]] as const,
    mtuOf: async (_pair: NetnsPair, dir: string) => {
      let text = "";
      try { text = readFileSync(join(dir, "leases"), "utf8"); } catch { return undefined; }
      const all = [...text.matchAll(/option interface-mtu (\d+);/g)];
      return all.length ? Number(all[all.length - 1]![1]) : undefined;
    },
  },
} as const;

describe.each(Object.keys(renewingClients) as (keyof typeof renewingClients)[])("%s renewing picks up an MTU reloaded by SIGHUP", (name) => {
  const pair = new NetnsPair();
  const dir = stateDir(`renew-${name}`);
  const sitePath = join(dir, "site.json");
  const client = renewingClients[name];
  let server: ServerProcess;

  const shortLease = (mtu: number) => {
    const s = site(mtu);
    s.networks[0]!.ipv4!.leaseTime = 20; // T1 10 s (udhcpc ignores T1 and renews at half the lease: also 10 s)
    return s;
  };

  beforeAll(async () => {
    await requirePrograms(["ip", name, "unshare"]);
    await pair.create({ mtu: 9000, guestMac: MAC, hostAddresses: ["192.0.2.1/24", "2001:db8:1::1/64"] });
    writeJson(sitePath, shortLease(1400));
    // No file watching here: only the SIGHUP can trigger the reload.
    server = await ServerProcess.startJson(pair, sitePath, `${pair.hostIf}=lan`, ["--no-watch"]);
  });

  afterAll(async () => {
    await pair.cleanup();
  });

  it("renews by unicast and gets the new MTU", async () => {
    await resetGuest(pair, 9000);
    const clientDir = join(dir, "client");
    const [cmd, args] = client.args(pair.guestIf, clientDir);
    pair.spawnGuestIsolated(clientDir, cmd, [...args]);
    const bound = await waitFor(async () => { const s = await guestV4(pair); return s.address === "192.0.2.10" && (await client.mtuOf(pair, clientDir)) === 1400 ? s : undefined; }, 20_000);
    expect(bound?.address).toBe("192.0.2.10");
    writeJson(sitePath, shortLease(9000));
    server.hup();
    expect(await server.waitEvent("reloaded", (l) => l.revision === "rev-9000" && l.why === "SIGHUP")).toBeDefined();
    const renewed = await waitFor(async () => ((await client.mtuOf(pair, clientDir)) === 9000 ? true : undefined), 25_000, 500);
    expect(renewed).toBe(true);
    expect((await guestV4(pair)).address).toBe("192.0.2.10");
    expect(server.events("ack").some((l) => l.state === "renew-rebind" && l.to === "192.0.2.10")).toBe(true);
    expect(server.events("reloaded").length).toBe(1);
  });
});
