// Mounted file systems and disks with their bus addresses, from mountinfo and sysfs.
import { basename } from "node:path";
import type { FsRoot } from "./fsroot.ts";

export interface DiskAddress {
  "pci-controller": { domain: number; bus: number; slot: number; function: number };
  "bus-type": string; bus: number; target: number; unit: number; serial?: string; dev?: string;
}

export interface MountEntry { major: number; minor: number; mountpoint: string; fstype: string; source: string }

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function mountinfo(fs: FsRoot): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of (fs.read("/proc/self/mountinfo") ?? "").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const a = line.slice(0, sep).split(" ");
    const b = line.slice(sep + 3).split(" ");
    const [maj, min] = (a[2] ?? "0:0").split(":").map(Number);
    out.push({ major: maj!, minor: min!, mountpoint: unescapeMount(a[4] ?? ""), fstype: b[0] ?? "", source: b[1] ?? "" });
  }
  return out;
}

/** Bus address of a block device from its sysfs device path (virtio and PCI parents). */
export function diskAddress(fs: FsRoot, devName: string): DiskAddress | undefined {
  const sysPath = fs.readlink(`/sys/class/block/${devName}`) ?? "";
  const pci = [...sysPath.matchAll(/([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])/g)].pop();
  if (!pci) return undefined;
  const busType = sysPath.includes("/virtio") ? "virtio" : /\/(ata|host)\d+\//.test(sysPath) ? "sata" : /\/nvme\//.test(sysPath) ? "nvme" : "unknown";
  // qemu-ga 7.2 reports a serial only from udev, which it does not consult for virtio disks; neither do we.
  const serial = busType === "virtio" ? undefined : fs.readTrim(`/sys/class/block/${devName}/device/serial`);
  const addr: DiskAddress = {
    "pci-controller": { domain: parseInt(pci[1]!, 16), bus: parseInt(pci[2]!, 16), slot: parseInt(pci[3]!, 16), function: parseInt(pci[4]!, 10) },
    "bus-type": busType, bus: 0, target: 0, unit: 0, dev: `/dev/${devName}`,
  };
  if (serial) addr.serial = serial;
  return addr;
}

/** The whole disk a (partition) device belongs to. */
export function parentDisk(fs: FsRoot, devName: string): string {
  if (fs.exists(`/sys/class/block/${devName}/partition`)) {
    const link = fs.readlink(`/sys/class/block/${devName}`) ?? "";
    const parts = link.split("/");
    return parts[parts.length - 2] ?? devName;
  }
  return devName;
}

export function blockDevName(fs: FsRoot, major: number, minor: number): string | undefined {
  const link = fs.readlink(`/sys/dev/block/${major}:${minor}`);
  return link ? basename(link) : undefined;
}

export interface DiskInfo { name: string; partition: boolean; dependencies?: string[]; address?: DiskAddress }

export function disks(fs: FsRoot): DiskInfo[] {
  const out: DiskInfo[] = [];
  for (const name of fs.list("/sys/block")) {
    // Devices without a backing device (loop, zram, ram) are virtual: qemu-ga leaves them out too.
    if (!fs.exists(`/sys/block/${name}/device`)) continue;
    const deps = fs.list(`/sys/block/${name}/slaves`).map((s) => `/dev/${s}`);
    const entry: DiskInfo = { name: `/dev/${name}`, partition: false, dependencies: deps };
    const addr = diskAddress(fs, name);
    if (addr) entry.address = addr;
    out.push(entry);
    for (const part of fs.list(`/sys/block/${name}`).filter((p) => p.startsWith(name) && fs.exists(`/sys/block/${name}/${p}/partition`))) {
      out.push({ name: `/dev/${part}`, partition: true, dependencies: [`/dev/${name}`] });
    }
  }
  return out;
}
