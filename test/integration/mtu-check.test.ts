// `guestlink mtu-check` as an operator runs it: against a host's real `ip -j -d link` output (from
// links this test creates in its own network namespace), a seed rendered before an MTU change,
// and a guest report; with the exit status a script can act on.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, tempDir } from "../helpers/peers.ts";

const work = tempDir("mtu-check");
const ns = `glmtu${process.pid}`;
const INVENTORY = "test/fixtures/inventories/mtu-check.yaml";

function ip(...args: string[]) {
  const r = run("ip", ["-n", ns, ...args]);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function guestlink(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/guestlink", "mtu-check", "--inventory", INVENTORY, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The host as the inventory describes it: eno1 under br-lan, br-tiny and br-pinned (veth stands in for the NIC). */
function buildHost(nicMtu: number): string {
  for (const l of ["br-lan", "br-tiny", "br-pinned", "eno1"]) spawnSync("ip", ["-n", ns, "link", "del", l]);
  ip("link", "add", "eno1", "type", "veth", "peer", "name", "eno1-peer");
  ip("link", "set", "eno1", "mtu", String(nicMtu));
  ip("link", "add", "br-lan", "type", "bridge");
  ip("link", "set", "eno1", "master", "br-lan");
  ip("link", "set", "br-lan", "mtu", String(Math.min(1500, nicMtu)));
  for (const br of ["br-tiny", "br-pinned"]) {
    ip("link", "add", br, "type", "bridge");
    ip("link", "set", br, "mtu", "1500");
  }
  const file = join(work.path, `ip-link-${nicMtu}.json`);
  writeFileSync(file, ip("-j", "-d", "link"));
  return file;
}

beforeAll(() => {
  const r = run("ip", ["netns", "add", ns]);
  if (r.status !== 0) throw new Error(`cannot create network namespace ${ns}: ${r.stderr}`);
});
afterAll(() => {
  spawnSync("ip", ["netns", "del", ns]);
  work.remove();
});

const report = (mtus: Record<string, number>) => {
  const file = join(work.path, `guest-${Object.values(mtus).join("-")}.json`);
  writeFileSync(file, JSON.stringify({ source: "agent", at: "2026-11-24T10:00:00Z", interfaces: [
    { name: "eth0", mac: "52:54:00:05:00:01", mtu: mtus.eth0 }, { name: "eth1", mac: "52:54:00:05:00:02", mtu: mtus.eth1 },
    { name: "eth2", mac: "52:54:00:05:00:03", mtu: mtus.eth2 },
  ] }));
  return file;
};

describe("guestlink mtu-check", () => {
  it("reads a real host's ip -j -d link and flags the NIC that is too small for the bridge's networks", () => {
    const small = buildHost(1400);
    const r = guestlink("--host-links", `hv1=${small}`);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^vm-a eth0 \(lan, MTU 1500\): inconsistent$/m);
    expect(r.stdout).toMatch(/host hv1: on host hv1 the path is br-lan \(bridge, MTU 1400\) over eno1 \(nic, MTU 1400\), which allows at most 1400 \(as seen on the host\)/);
    expect(r.stdout).toMatch(/interfaces checked on 2 VMs: \d+ inconsistent/);
  });

  it("exits 0 when the host is right and the guest agrees (leaving out the dhclient-ignored 500)", () => {
    const good = buildHost(9000);
    const guestFile = report({ eth0: 1500, eth1: 1442, eth2: 1400 });
    const r = guestlink("--host-links", `hv1=${good}`, "--guest-report", `vm-a=${guestFile}`, "--json");
    const parsed = JSON.parse(r.stdout);
    const vmA = parsed.vms.find((v: { vmName: string }) => v.vmName === "vm-a");
    expect(vmA.interfaces.map((i: { verdict: string }) => i.verdict)).toEqual(["consistent", "consistent", "consistent"]);
    expect(vmA.reportSource).toBe("agent");
    // vm-b's 500-byte network is the one real problem left, so the run as a whole still fails.
    expect(r.status).toBe(1);
    expect(parsed.summary.inconsistent).toBe(1);
  });

  it("compares the seed a VM booted with against today's inventory", () => {
    const oldInventory = join(work.path, "old.yaml");
    writeFileSync(oldInventory, readFileSync(INVENTORY, "utf8").replace("    mtu: 1400\n    mtuPolicy: static", "    mtu: 1450\n    mtuPolicy: static"));
    const seed = join(work.path, "old-seed");
    const rendered = spawnSync(process.execPath, ["bin/guestlink", "render", oldInventory, "--vm", "vm-a", "--format", "nocloud", "--out", seed], { encoding: "utf8" });
    expect(rendered.status, rendered.stderr).toBe(0);
    const r = guestlink("--seed", `vm-a=${seed}`, "--verbose");
    expect(r.stdout).toMatch(/the seed gave eth2 MTU 1450, but network pinned now has 1400/);
    expect(r.stdout).toMatch(/network 1400 \| host 1500 \| libvirt - \(unknown\) \| cloud-init 1450 \(mismatch\)/);
  });

  it("exits 2 on bad input, naming it", () => {
    const junk = join(work.path, "junk.json");
    writeFileSync(junk, JSON.stringify({ not: "ip output" }));
    const r = guestlink("--host-links", `hv1=${junk}`);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/junk\.json: not the output of "ip -j -d link"/);
    expect(guestlink("--host-links", `nohost=${junk}`).status).toBe(2);
    expect(guestlink("--guest-report", "vm-a").status).toBe(2);
    expect(spawnSync(process.execPath, ["bin/guestlink", "mtu-check"]).status).toBe(2);
  });
});
