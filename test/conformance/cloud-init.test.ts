// Real cloud-init (the Debian package) reads every seed we render for a suite of inventories and
// must end up with exactly the addresses and the MTU per interface that the inventory implies:
// through its datasource readers, its network-config parser, and its eni, netplan, networkd and
// sysconfig renderers. The suite covers the four network types, VLANs, IPv4-only / IPv6-only /
// dual stack, DHCP and static addressing, a bond with a VLAN on top, and four NICs on four MTUs.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteFile } from "../../metadata-server/inventory/load.ts";
import type { GuestInterface, ResolvedSite, ResolvedVm } from "../../metadata-server/model/types.ts";
import type { RenderContext } from "../../metadata-server/render/context.ts";
import { seedFiles } from "../../metadata-server/seed/layout.ts";
import { readSeedWithCloudInit, type CloudInitInterface, type CloudInitView } from "../helpers/cloud-init.ts";
import { requirePeer, run, tempDir } from "../helpers/peers.ts";

const INVENTORIES = [
  "test/fixtures/inventories/network-types.yaml",
  "test/fixtures/inventories/families.yaml",
  "test/fixtures/inventories/bond-vlan.yaml",
  "test/fixtures/inventories/four-mtus.yaml",
  "examples/inventory.yaml",
];

type Variant = "nocloud-v1" | "nocloud-v2" | "configdrive";
const VARIANTS: Variant[] = ["nocloud-v1", "nocloud-v2", "configdrive"];
const RENDERERS = ["eni", "netplan", "networkd", "sysconfig"] as const;

const work = tempDir("cloud-init-conformance");
const sites = new Map<string, ResolvedSite>();

beforeAll(async () => {
  requirePeer("/usr/bin/python3");
  requirePeer("cloud-init");
  for (const path of INVENTORIES) {
    const loaded = await loadSiteFile(path);
    expect(loaded.issues, `${path} must be valid`).toEqual([]);
    sites.set(path, loaded.site!);
  }
});
afterAll(() => work.remove());

function writeSeed(site: ResolvedSite, vm: ResolvedVm, variant: Variant): string {
  const dir = join(work.path, variant, vm.id);
  const ctx: RenderContext = { site, networkConfigVersion: variant === "nocloud-v2" ? 2 : 1 };
  for (const f of seedFiles(variant === "configdrive" ? "configdrive" : "nocloud", vm, ctx)) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.data);
  }
  return dir;
}

/** The name cloud-init gives an interface: ConfigDrive names VLANs parent.id and bonds bondN. */
function cloudInitName(vm: ResolvedVm, iface: GuestInterface, variant: Variant): string {
  if (variant !== "configdrive") return iface.name;
  if (iface.kind === "vlan") return `${iface.vlanLink}.${iface.vlanId}`;
  if (iface.kind === "bond") return `bond${vm.interfaces.filter((i) => i.kind === "bond").indexOf(iface)}`;
  return iface.name;
}

/** What cloud-init's subnet list must say for an interface's IPv4 and IPv6 configuration. */
function expectSubnets(iface: GuestInterface, seen: CloudInitInterface, variant: Variant) {
  const subnets = seen.subnets;
  const gatewayOf = (s: (typeof subnets)[number]) =>
    s.gateway ?? s.routes?.find((r) => r.prefix === 0 && (r.network === "0.0.0.0" || r.network === "::"))?.gateway;
  if (iface.ipv4) {
    if (iface.ipv4.method === "dhcp") {
      expect(subnets.map((s) => s.type)).toContain("dhcp4");
    } else {
      const s = subnets.find((x) => x.address === iface.ipv4!.address);
      expect(s, `${iface.name} must have ${iface.ipv4.address}`).toBeDefined();
      expect(s!.type).toBe("static");
      expect(Number(s!.prefix)).toBe(iface.ipv4.prefixLength);
      expect(gatewayOf(s!)).toBe(iface.ipv4.gateway);
    }
  } else {
    expect(subnets.some((s) => s.type === "dhcp4" || (s.address ?? "").includes("."))).toBe(false);
  }
  if (iface.ipv6) {
    const m = iface.ipv6.method;
    if (m === "static") {
      const s = subnets.find((x) => x.address === iface.ipv6!.address);
      expect(s, `${iface.name} must have ${iface.ipv6.address}`).toBeDefined();
      expect(["static6", "static"]).toContain(s!.type);
      expect(Number(s!.prefix)).toBe(iface.ipv6.prefixLength);
      expect(gatewayOf(s!)).toBe(iface.ipv6.gateway);
    } else if (variant === "nocloud-v2") {
      // cloud-init 22.4 converts v2 on non-netplan systems to v1: SLAAC (accept-ra only) leaves no
      // subnet, and DHCPv6 becomes "dhcp6". On netplan systems v2 is passed through untouched.
      const want = m === "slaac" ? undefined : "dhcp6";
      if (want) expect(subnets.map((s) => s.type)).toContain(want);
    } else {
      expect(subnets.map((s) => s.type)).toContain(`ipv6_${m}`);
    }
  }
}

function checkView(vm: ResolvedVm, variant: Variant, view: CloudInitView) {
  expect(view.errors, "cloud-init reported errors").toEqual([]);
  expect(view.warnings, "cloud-init logged warnings").toEqual([]);
  expect(view.instance_id).toBe(vm.id);
  if (variant === "configdrive") expect(view.ec2_instance_id).toBe(vm.id);
  expect(view.hostname).toBe(vm.fqdn);
  expect(view.public_keys ?? []).toEqual(vm.sshKeys);
  expect(view.userdata?.kind).toBe("cloud-config");
  expect(view.userdata?.valid).toBe(true);

  const expectedNames = vm.interfaces.filter((i) => i.kind !== "bridge").map((i) => cloudInitName(vm, i, variant));
  expect(view.interfaces.map((i) => i.name).sort()).toEqual([...expectedNames].sort());
  for (const iface of vm.interfaces) {
    const name = cloudInitName(vm, iface, variant);
    const seen = view.interfaces.find((i) => i.name === name)!;
    // cloud-init 22.4's v2 reader keeps no MAC for bonds and VLANs (netplan itself honours a
    // bond's macaddress; VLANs take their parent's).
    expect(seen.mac).toBe(variant === "nocloud-v2" && (iface.kind === "vlan" || iface.kind === "bond") ? null : iface.mac);
    const wantMtu = iface.mtuInCloudInit ? iface.mtu.value : null;
    expect(seen.mtu === null ? null : Number(seen.mtu), `${vm.name} ${name} MTU in cloud-init's network state`).toBe(wantMtu);
    for (const renderer of RENDERERS) {
      expect(view.rendered[renderer][name] ?? null, `${vm.name} ${name} MTU as rendered by ${renderer}`).toBe(wantMtu);
    }
    if (iface.kind === "vlan") {
      expect(seen.vlan_id).toBe(iface.vlanId);
      expect(seen.vlan_link).toBe(cloudInitName(vm, vm.interfaces.find((i) => i.name === iface.vlanLink)!, variant));
    }
    if (iface.master) expect(seen.bond_master).toBe(cloudInitName(vm, vm.interfaces.find((i) => i.name === iface.master)!, variant));
    if (iface.network) expectSubnets(iface, seen, variant);
  }
}

describe.each(INVENTORIES)("cloud-init 22.4 reads the seeds of %s", (path) => {
  it.each(VARIANTS)("%s: every VM gets the inventory's addresses and MTUs", (variant) => {
    const site = sites.get(path)!;
    for (const vm of site.vms) {
      const view = readSeedWithCloudInit(writeSeed(site, vm, variant));
      checkView(vm, variant, view);
    }
  });
});

describe("the MTU values the suite rests on", () => {
  const mtuOf = (path: string, vmName: string, ifname: string) => {
    const vm = sites.get(path)!.vms.find((v) => v.name === vmName)!;
    return vm.interfaces.find((i) => i.name === ifname)!;
  };
  it("bridge default 1500, SR-IOV 9000, OVN GENEVE over 1500 is 1442, Neutron VXLAN over an IPv6 9000 underlay is 8930", () => {
    const p = "test/fixtures/inventories/network-types.yaml";
    expect(mtuOf(p, "on-bridge", "eth0").mtu.value).toBe(1500);
    expect(mtuOf(p, "on-sriov", "eth0").mtu.value).toBe(9000);
    expect(mtuOf(p, "on-ovn", "eth0").mtu.value).toBe(1442);
    expect(mtuOf(p, "on-neutron", "eth0").mtu.value).toBe(9000 - 70);
  });
  it("four NICs on four MTUs, with the OVN one on DHCP leaving its MTU to DHCP", () => {
    const p = "test/fixtures/inventories/four-mtus.yaml";
    const values = ["eth0", "eth1", "eth2", "eth3"].map((n) => mtuOf(p, "four-nics", n).mtu.value);
    expect(values).toEqual([1500, 1442, 9000, 1280]);
    expect(mtuOf(p, "four-nics", "eth1").mtuInCloudInit).toBe(false);
    expect(mtuOf(p, "four-nics", "eth0").mtuInCloudInit).toBe(true);
  });
  it("a bond's members carry the bond's MTU and its VLAN stays within it", () => {
    const p = "test/fixtures/inventories/bond-vlan.yaml";
    expect(["eth0", "eth1", "bond0"].map((n) => mtuOf(p, "bonded", n).mtu.value)).toEqual([9000, 9000, 9000]);
    expect(mtuOf(p, "bonded", "bond0.120").mtu.value).toBe(8000);
  });
});

describe("cloud-init's own command line", () => {
  it("`cloud-init devel net-convert` renders our network-config and network_data.json with every MTU", () => {
    const site = sites.get("test/fixtures/inventories/four-mtus.yaml")!;
    const vm = site.vms[0]!;
    const cases = [
      { kind: "yaml", file: join(writeSeed(site, vm, "nocloud-v1"), "network-config") },
      { kind: "network_data.json", file: join(writeSeed(site, vm, "configdrive"), "openstack/latest/network_data.json") },
    ];
    const macArgs = vm.interfaces.filter((i) => i.kind === "physical").flatMap((i) => ["--mac", `${i.name},${i.mac}`]);
    for (const c of cases) {
      for (const output of ["eni", "netplan", "networkd", "sysconfig"]) {
        const out = join(work.path, "net-convert", c.kind, output);
        const r = run("cloud-init", ["devel", "net-convert", "--network-data", c.file, "--kind", c.kind, "--output-kind", output, "--directory", out,
          "--distro", output === "sysconfig" ? "rhel" : "debian", ...macArgs]);
        expect(r.status, `${c.kind} -> ${output}: ${r.stderr}`).toBe(0);
        const rendered = run("/usr/bin/grep", ["-rhoE", "(MTU=|MTUBytes=|mtu:? )[0-9]+", out]).stdout;
        const mtus = [...rendered.matchAll(/(\d+)/g)].map((m) => Number(m[1]));
        // eth1 rides a DHCP network under prefer-dhcp, so only the three pinned MTUs are written.
        for (const want of [1500, 9000, 1280]) expect(mtus, `${c.kind} -> ${output}`).toContain(want);
        expect(mtus, `${c.kind} -> ${output} must not pin the DHCP NIC's 1442`).not.toContain(1442);
      }
    }
  });

  it("`cloud-init schema` accepts every user-data we render", () => {
    const site = sites.get("examples/inventory.yaml")!;
    for (const vm of site.vms) {
      const file = join(work.path, `user-data-${vm.name}`);
      writeFileSync(file, vm.userData);
      const r = run("cloud-init", ["schema", "--config-file", file]);
      expect(r.status, `${vm.name}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/Valid cloud-config/);
    }
  });
});
