// libvirt's own schema validator accepts the <interface> elements we render, and mtu-check reads
// a domain's <mtu size> back as the libvirt layer (virtio-net host_mtu).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run, tempDir } from "../helpers/peers.ts";

const work = tempDir("libvirt");
afterAll(() => work.remove());

function guestlink(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/guestlink", ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A minimal domain around the interfaces, as `virsh define` would take it. */
const domain = (name: string, interfaces: string) => `<domain type='kvm'>
  <name>${name}</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
${interfaces}  </devices>
</domain>
`;

describe("guestlink render --format libvirt", () => {
  it.each(["web-1", "router-1", "nfv-1", "db-1"])("%s: virt-xml-validate accepts the domain with our interfaces", (vm) => {
    const r = guestlink("render", "examples/inventory.yaml", "--vm", vm, "--format", "libvirt");
    expect(r.status, r.stderr).toBe(0);
    const file = join(work.path, `${vm}.xml`);
    writeFileSync(file, domain(vm, r.stdout));
    const v = run("virt-xml-validate", [file, "domain"]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout + v.stderr).toMatch(/validates/);
  });

  it("puts each network's MTU on the virtio interface, the OVN ones on br-int", () => {
    const xml = guestlink("render", "examples/inventory.yaml", "--vm", "router-1", "--format", "libvirt").stdout;
    const sizes = [...xml.matchAll(/<mtu size='(\d+)'\/>/g)].map((m) => Number(m[1]));
    expect(sizes).toEqual([1500, 1442, 9000, 1500]);
    expect(xml.match(/<model type='virtio'\/>/g)).toHaveLength(4);
    expect(xml).toMatch(/<source bridge='br-int'\/>\n {4}<virtualport type='openvswitch'\/>/);
  });

  it("mtu-check reads the domain XML as the libvirt layer and flags a missing or wrong <mtu>", () => {
    const good = guestlink("render", "examples/inventory.yaml", "--vm", "router-1", "--format", "libvirt").stdout;
    const stale = good.replace("<mtu size='1442'/>", "<mtu size='1500'/>").replace("    <mtu size='9000'/>\n", "");
    const goodFile = join(work.path, "router-good.xml");
    const staleFile = join(work.path, "router-stale.xml");
    writeFileSync(goodFile, domain("router-1", good));
    writeFileSync(staleFile, domain("router-1", stale));
    const ok = guestlink("mtu-check", "--inventory", "examples/inventory.yaml", "--domain-xml", `router-1=${goodFile}`, "--json");
    expect(ok.status, ok.stderr).toBe(0);
    const router = JSON.parse(ok.stdout).vms.find((v: { vmName: string }) => v.vmName === "router-1");
    expect(router.interfaces.map((i: { layers: { layer: string; status: string }[] }) => i.layers.find((l) => l.layer === "libvirt")!.status)).toEqual(["ok", "ok", "ok", "ok"]);
    const bad = guestlink("mtu-check", "--inventory", "examples/inventory.yaml", "--domain-xml", `router-1=${staleFile}`);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/libvirt gives eth1 <mtu size='1500'\/>, but network tenant-a has 1442/);
    expect(bad.stdout).toMatch(/libvirt gives eth2 no <mtu>, so virtio-net reports 1500, but network storage has 9000/);
  });
});
