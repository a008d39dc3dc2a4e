// One guest's life in the lab: its inventory, its seed and package disk (the agent's and the
// server's .deb), its QEMU command line, and the comparison between what the inventory implies
// and what the guest reports. Shared by the passing scenario and the deliberately broken one.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { canonicalIp } from "../../metadata-server/model/addr.ts";
import { interfaceMtus } from "../../metadata-server/observe/libvirt-xml.ts";
import type { ObservedGuestInterface } from "../../metadata-server/observe/types.ts";
import { GUESTLINK, REPO, sh } from "./lab.ts";

export const VM_ID = "6f1c2a3e-0b7d-4c55-9a31-2f6d1e8be2e0";
export const VM_NAME = "e2e-guest";
/** The server as the guest reaches it: the host side of the overlay network's bridge. */
export const PUBLIC_URL = "http://10.77.0.1:8775";
/** The operator API: only on the namespace's loopback. */
export const API = "http://127.0.0.1:8775";
export const MACS = { overlay: "52:54:00:e2:e0:01", jumbo: "52:54:00:e2:e0:02" } as const;

export interface InventoryOptions {
  jumboMtu: number;
  /** The overlay network's MTU; left out (the OVN rule gives 1442) unless a scenario forces one. */
  overlayMtu?: number;
  qgaSocket?: string;
}

/**
 * Two logical networks with different MTUs and addressing: an OVN overlay (GENEVE, so 1500 - 58 =
 * 1442) with a static address and the default route, and a jumbo-frame bridge network addressed by
 * our DHCP server (60 s leases, so a renewal comes within 30 s) with SLAAC from our RAs.
 */
export function inventory(opts: InventoryOptions): string {
  // The agent .deb comes on a read-only disk labelled GLAGENT; installing it is part of the seed.
  const install = "mkdir -p /run/glagent && mount -o ro /dev/disk/by-label/GLAGENT /run/glagent && dpkg -i /run/glagent/guestlink-agent.deb; umount /run/glagent";
  return stringify({
    version: 1,
    site: { name: "e2e", domain: "e2e.test" },
    networks: [
      {
        name: "overlay", type: "ovn", ...(opts.overlayMtu ? { mtu: opts.overlayMtu } : {}),
        ipv4: { subnet: "10.77.0.0/24", gateway: "10.77.0.1", dhcp: false },
        dns: { servers: ["10.77.0.1"] },
      },
      {
        name: "jumbo", type: "bridge", mtu: opts.jumboMtu,
        ipv4: { subnet: "10.77.1.0/24", leaseTime: 60 },
        ipv6: { prefix: "fd77:e2e:1::/64", mode: "slaac", ra: true },
      },
    ],
    vms: [{
      id: VM_ID, name: VM_NAME, hostname: VM_NAME,
      ...(opts.qgaSocket ? { qgaSocket: opts.qgaSocket } : {}),
      userData: { raw: `#cloud-config\nbootcmd:\n  - [cloud-init-per, once, guestlink-agent-install, sh, -c, ${JSON.stringify(install)}]\n` },
      nics: [
        { name: "eth0", network: "overlay", mac: MACS.overlay, ipv4: { address: "10.77.0.10" } },
        { name: "eth1", network: "jumbo", mac: MACS.jumbo, ipv4: { mode: "dhcp", address: "10.77.1.10" } },
      ],
    }],
  });
}

/** What the resolved model says each vNIC must end up with (from the server's own API). */
export interface ExpectedNic {
  name: string;
  mac: string;
  mtu: number;
  addresses: string[];
}

export function expectedNics(vm: { interfaces: { name: string; mac: string; mtu: number; ipv4?: { address?: string; prefixLength: number }; ipv6?: { address?: string; prefixLength: number } }[] }): ExpectedNic[] {
  return vm.interfaces.map((i) => ({
    name: i.name, mac: i.mac, mtu: i.mtu,
    addresses: [i.ipv4, i.ipv6].filter((a) => a?.address).map((a) => `${canonicalIp(a!.address!)}/${a!.prefixLength}`),
  }));
}

/** An interface as the server reports it (agent or QGA poll). */
export type ReportedNic = ObservedGuestInterface;

/**
 * Every way the guest differs from what the inventory implies, in words an operator can act on.
 * Empty when they agree. Extra link-local addresses are expected and ignored.
 */
export function differences(expected: ExpectedNic[], reported: ReportedNic[], source: string): string[] {
  const out: string[] = [];
  for (const e of expected) {
    const r = reported.find((n) => n.mac === e.mac);
    if (!r) {
      out.push(`${source}: no interface with MAC ${e.mac} (${e.name})`);
      continue;
    }
    const where = `${source}: ${r.name} (${e.mac})`;
    if (r.mtu !== e.mtu) out.push(`${where} has MTU ${r.mtu ?? "unknown"}, the inventory implies ${e.mtu}`);
    if (r.ipv6Mtu !== undefined && r.ipv6Mtu !== e.mtu) out.push(`${where} has IPv6 MTU ${r.ipv6Mtu}, the inventory implies ${e.mtu}`);
    if (r.operstate !== "up") out.push(`${where} is ${r.operstate ?? "in an unknown state"}, not up`);
    if (r.carrier === false) out.push(`${where} has no carrier`);
    const have = new Set(r.addresses.map((a) => {
      const [ip, len] = a.split("/");
      return `${canonicalIp(ip!) ?? ip}/${len}`;
    }));
    for (const a of e.addresses) if (!have.has(a)) out.push(`${where} lacks ${a} (it has ${[...have].join(", ") || "no address"})`);
  }
  return out;
}

/** The seed ISO and the libvirt <interface> rendering come from our CLI, as a platform would call it. */
export function renderGuestMedia(inventoryPath: string, stateDir: string, out: string): { seed: string; hostMtu: Map<string, number> } {
  const seed = join(out, "seed.iso");
  sh(process.execPath, [GUESTLINK, "render", inventoryPath, "--vm", VM_NAME, "--format", "nocloud", "--iso", seed, "--public-url", PUBLIC_URL, "--state-dir", stateDir]);
  const xml = sh(process.execPath, [GUESTLINK, "render", inventoryPath, "--vm", VM_NAME, "--format", "libvirt"]);
  writeFileSync(join(out, "interfaces.xml"), xml);
  const hostMtu = new Map<string, number>();
  for (const [mac, mtu] of interfaceMtus(xml)) if (mtu !== null) hostMtu.set(mac, mtu);
  return { seed, hostMtu };
}

/**
 * A read-only disk labelled GLAGENT, built once per run, with the agent's .deb (the seed's bootcmd
 * installs it) and what the packaged server needs to be tried under the guest's systemd: its .deb
 * and a Node 20 for it (Debian 12 has 18), the one this test runs on.
 */
export function buildPackageDisk(out: string): string {
  const packageDisk = join(out, "packages.iso");
  const debDir = join(out, "package-disk");
  mkdirSync(debDir, { recursive: true });
  const deb = sh("bash", [join(REPO, "packaging/agent/build-deb.sh"), join(out, "dist")]).trim().split("\n").pop()!;
  copyFileSync(deb, join(debDir, "guestlink-agent.deb"));
  const serverDeb = sh(process.execPath, [join(REPO, "packaging/server/build-deb.mjs"), "--out", join(out, "dist")]).trim().split("\n").pop()!;
  copyFileSync(serverDeb, join(debDir, "guestlink-server.deb"));
  // Copied alone into the guest, the binary must not need a libnode of its own (Debian's Node 18 does).
  if (/libnode/.test(sh("ldd", [process.execPath]))) throw new Error(`${process.execPath} needs a shared libnode: the guest cannot run it alone`);
  copyFileSync(process.execPath, join(debDir, "node"));
  sh("genisoimage", ["-quiet", "-V", "GLAGENT", "-r", "-J", "-o", packageDisk, debDir]);
  return packageDisk;
}

export interface BootOptions {
  image: string;
  seed: string;
  packageDisk: string;
  qgaSocket: string;
  hostMtu: Map<string, number>;
  runDir: string;
}

export function qemuArgs(o: BootOptions): string[] {
  const nics = [MACS.overlay, MACS.jumbo].flatMap((mac, i) => {
    const mtu = o.hostMtu.get(mac);
    if (!mtu) throw new Error(`the libvirt rendering has no <mtu> for ${mac}`);
    return ["-netdev", `tap,id=n${i},ifname=tap${i},script=no,downscript=no`, "-device", `virtio-net-pci,netdev=n${i},mac=${mac},host_mtu=${mtu}`];
  });
  return [
    "-name", VM_NAME, "-machine", "q35,accel=tcg", "-cpu", "max", "-m", "1024", "-smp", "2",
    // The serial console is logged, and also reachable on serial.sock (root logs in there) for debugging.
    "-nographic", "-monitor", "none",
    "-chardev", `socket,id=ser0,path=${join(o.runDir, "serial.sock")},server=on,wait=off,logfile=${join(o.runDir, "serial.log")}`,
    "-serial", "chardev:ser0",
    "-kernel", join(o.image, "vmlinuz"), "-initrd", join(o.image, "initrd.img"),
    "-append", "root=LABEL=guest-root rw console=ttyS0,115200",
    "-drive", `file=${join(o.runDir, "disk.qcow2")},if=virtio,format=qcow2,cache=unsafe`,
    "-drive", `file=${o.seed},media=cdrom,readonly=on`,
    "-drive", `file=${o.packageDisk},if=virtio,format=raw,readonly=on`,
    "-device", "virtio-serial-pci,id=vser0",
    "-chardev", `socket,id=qga0,path=${o.qgaSocket},server=on,wait=off`,
    "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0",
    ...nics,
  ];
}

/** Every boot is a first boot: a fresh overlay over the cached image. */
export function overlayDisk(image: string, runDir: string): void {
  sh("qemu-img", ["create", "-q", "-f", "qcow2", "-b", join(image, "root.img"), "-F", "raw", join(runDir, "disk.qcow2")]);
}
