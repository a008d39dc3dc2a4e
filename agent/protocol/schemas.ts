// Argument and return types of every command, transcribed from qemu-ga 7.2's QAPI schema
// (qga/qapi-schema.json), plus the commands qemu-ga gained later that we also serve, plus our extension.
// Member order matters: it is the order in which argument errors are detected.
import { q } from "./qapi.ts";
import type { QType } from "./qapi.ts";

const none = q.struct("none", {});

export const GuestFileWhence = q.alternate("GuestFileWhence", {
  int: q.int,
  str: q.enum("QGASeek", ["set", "cur", "end"]),
});

export const GuestLogicalProcessor = q.struct("GuestLogicalProcessor", {
  "logical-id": q.int, online: q.bool, "*can-offline": q.bool,
});
export const GuestMemoryBlock = q.struct("GuestMemoryBlock", {
  "phys-index": q.uint64, online: q.bool, "*can-offline": q.bool,
});

export const GuestIpAddress = q.struct("GuestIpAddress", {
  "ip-address": q.str, "ip-address-type": q.enum("GuestIpAddressType", ["ipv4", "ipv6"]), prefix: q.int,
});
export const GuestNetworkInterfaceStat = q.struct("GuestNetworkInterfaceStat", {
  "rx-bytes": q.uint64, "rx-packets": q.uint64, "rx-errs": q.uint64, "rx-dropped": q.uint64,
  "tx-bytes": q.uint64, "tx-packets": q.uint64, "tx-errs": q.uint64, "tx-dropped": q.uint64,
});
export const GuestNetworkInterface = q.struct("GuestNetworkInterface", {
  name: q.str, "*hardware-address": q.str, "*ip-addresses": q.list(GuestIpAddress), "*statistics": GuestNetworkInterfaceStat,
});

const GuestPCIAddress = q.struct("GuestPCIAddress", { domain: q.int, bus: q.int, slot: q.int, function: q.int });
const GuestDiskAddress = q.struct("GuestDiskAddress", {
  "pci-controller": GuestPCIAddress, "bus-type": q.str, bus: q.int, target: q.int, unit: q.int,
  "*serial": q.str, "*dev": q.str, "*ccw-address": q.any,
});
const GuestFilesystemInfo = q.struct("GuestFilesystemInfo", {
  name: q.str, mountpoint: q.str, type: q.str, "*used-bytes": q.uint64, "*total-bytes": q.uint64,
  disk: q.list(GuestDiskAddress),
});
const GuestDiskInfo = q.struct("GuestDiskInfo", {
  name: q.str, partition: q.bool, "*dependencies": q.list(q.str), "*address": GuestDiskAddress,
  "*alias": q.str, "*smart": q.any,
});
const GuestDiskStats = q.struct("GuestDiskStats", Object.fromEntries(
  ["read-sectors", "read-ios", "read-merges", "write-sectors", "write-ios", "write-merges", "discard-sectors",
    "discard-ios", "discard-merges", "flush-ios", "read-ticks", "write-ticks", "discard-ticks", "flush-ticks",
    "ios-pgr", "total-ticks", "weight-ticks"].map((k) => [`*${k}`, q.uint64])));
const GuestDiskStatsInfo = q.struct("GuestDiskStatsInfo", { name: q.str, major: q.uint64, minor: q.uint64, stats: GuestDiskStats });
const GuestLinuxCpuStats = q.struct("GuestCpuStats", {
  type: q.enum("GuestCpuStatsType", ["linux"]), cpu: q.int, user: q.uint64, nice: q.uint64, system: q.uint64,
  idle: q.uint64, "*iowait": q.uint64, "*irq": q.uint64, "*softirq": q.uint64, "*steal": q.uint64,
  "*guest": q.uint64, "*guestnice": q.uint64,
});
const GuestOSInfo = q.struct("GuestOSInfo", Object.fromEntries(
  ["kernel-release", "kernel-version", "machine", "id", "name", "pretty-name", "version", "version-id",
    "variant", "variant-id"].map((k) => [`*${k}`, q.str])));
const GuestExecStatus = q.struct("GuestExecStatus", {
  exited: q.bool, "*exitcode": q.int, "*signal": q.int, "*out-data": q.str, "*err-data": q.str,
  "*out-truncated": q.bool, "*err-truncated": q.bool,
});
const GuestFilesystemTrimResponse = q.struct("GuestFilesystemTrimResponse", {
  paths: q.list(q.struct("GuestFilesystemTrimResult", { path: q.str, "*trimmed": q.int, "*minimum": q.int, "*error": q.str })),
});
const GuestNetworkRoute = q.struct("GuestNetworkRoute", {
  iface: q.str, destination: q.str, metric: q.int, "*gateway": q.str, "*mask": q.str, "*irtt": q.int,
  "*flags": q.uint64, "*refcnt": q.int, "*use": q.int, "*window": q.int, "*mtu": q.int,
  "*desprefixlen": q.str, "*source": q.str, "*srcprefixlen": q.str, "*nexthop": q.str, version: q.int,
});

/** Our extension: what qemu-ga cannot report (link state, MTU, driver, kind of interface). */
export const GuestNetworkLink = q.struct("GuestNetworkLink", {
  name: q.str,
  "*hardware-address": q.str,
  operstate: q.enum("GuestLinkOperState", ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"]),
  "*carrier": q.bool,
  mtu: q.int,
  /** The IPv6 MTU where it differs from the link's (a router advertisement's MTU option sets only this). */
  "*ipv6-mtu": q.int,
  "*speed": q.int,
  "*duplex": q.enum("GuestLinkDuplex", ["full", "half", "unknown"]),
  "*driver": q.str,
  type: q.enum("GuestLinkType", ["loopback", "virtio", "sriov-vf", "bond", "vlan", "bridge", "veth", "tun", "dummy", "ethernet", "other"]),
  "*parent": q.str,
  "*master": q.str,
  "*vlan-id": q.int,
  "*ip-addresses": q.list(GuestIpAddress),
});

export interface CommandSchema {
  args: QType & { kind: "struct" };
  returns: QType | null;
}

const c = (args: Record<string, QType>, returns: QType | null): CommandSchema => ({ args: q.struct("args", args), returns });

/** In qemu-ga 7.2's registration order (the order of `qemu-ga -b help`); guest-info lists them reversed. */
export const QGA_72_SCHEMAS = {
  "guest-sync-delimited": c({ id: q.int }, q.int),
  "guest-sync": c({ id: q.int }, q.int),
  "guest-ping": c({}, null),
  "guest-get-time": c({}, q.int),
  "guest-set-time": c({ "*time": q.int }, null),
  "guest-info": c({}, q.struct("GuestAgentInfo", {
    version: q.str,
    supported_commands: q.list(q.struct("GuestAgentCommandInfo", { name: q.str, enabled: q.bool, "success-response": q.bool })),
  })),
  "guest-shutdown": c({ "*mode": q.str }, null),
  "guest-file-open": c({ path: q.str, "*mode": q.str }, q.int),
  "guest-file-close": c({ handle: q.int }, null),
  "guest-file-read": c({ handle: q.int, "*count": q.int }, q.struct("GuestFileRead", { count: q.int, "buf-b64": q.str, eof: q.bool })),
  "guest-file-write": c({ handle: q.int, "buf-b64": q.str, "*count": q.int }, q.struct("GuestFileWrite", { count: q.int, eof: q.bool })),
  "guest-file-seek": c({ handle: q.int, offset: q.int, whence: GuestFileWhence }, q.struct("GuestFileSeek", { position: q.int, eof: q.bool })),
  "guest-file-flush": c({ handle: q.int }, null),
  "guest-fsfreeze-status": c({}, q.enum("GuestFsfreezeStatus", ["thawed", "frozen"])),
  "guest-fsfreeze-freeze": c({}, q.int),
  "guest-fsfreeze-freeze-list": c({ "*mountpoints": q.list(q.str) }, q.int),
  "guest-fsfreeze-thaw": c({}, q.int),
  "guest-fstrim": c({ "*minimum": q.int }, GuestFilesystemTrimResponse),
  "guest-suspend-disk": c({}, null),
  "guest-suspend-ram": c({}, null),
  "guest-suspend-hybrid": c({}, null),
  "guest-network-get-interfaces": c({}, q.list(GuestNetworkInterface)),
  "guest-get-vcpus": c({}, q.list(GuestLogicalProcessor)),
  "guest-set-vcpus": c({ vcpus: q.list(GuestLogicalProcessor) }, q.int),
  "guest-get-disks": c({}, q.list(GuestDiskInfo)),
  "guest-get-fsinfo": c({}, q.list(GuestFilesystemInfo)),
  "guest-set-user-password": c({ username: q.str, password: q.str, crypted: q.bool }, null),
  "guest-get-memory-blocks": c({}, q.list(GuestMemoryBlock)),
  "guest-set-memory-blocks": c({ "mem-blks": q.list(GuestMemoryBlock) }, q.list(q.struct("GuestMemoryBlockResponse", {
    "phys-index": q.uint64, response: q.str, "*error-code": q.int,
  }))),
  "guest-get-memory-block-info": c({}, q.struct("GuestMemoryBlockInfo", { size: q.uint64 })),
  "guest-exec-status": c({ pid: q.int }, GuestExecStatus),
  "guest-exec": c({ path: q.str, "*arg": q.list(q.str), "*env": q.list(q.str), "*input-data": q.str, "*capture-output": q.bool },
    q.struct("GuestExec", { pid: q.int })),
  "guest-get-host-name": c({}, q.struct("GuestHostName", { "host-name": q.str })),
  "guest-get-users": c({}, q.list(q.struct("GuestUser", { user: q.str, "*domain": q.str, "login-time": q.number }))),
  "guest-get-timezone": c({}, q.struct("GuestTimezone", { "*zone": q.str, offset: q.int })),
  "guest-get-osinfo": c({}, GuestOSInfo),
  "guest-get-devices": c({}, q.list(q.any)),
  "guest-ssh-get-authorized-keys": c({ username: q.str }, q.struct("GuestAuthorizedKeys", { keys: q.list(q.str) })),
  "guest-ssh-add-authorized-keys": c({ username: q.str, keys: q.list(q.str), "*reset": q.bool }, null),
  "guest-ssh-remove-authorized-keys": c({ username: q.str, keys: q.list(q.str) }, null),
  "guest-get-diskstats": c({}, q.list(GuestDiskStatsInfo)),
  "guest-get-cpustats": c({}, q.list(GuestLinuxCpuStats)),
} as const satisfies Record<string, CommandSchema>;

/** Commands we serve beyond qemu-ga 7.2: two from later QEMU releases and our extension. */
export const EXTRA_SCHEMAS = {
  "guest-network-get-route": c({}, q.list(GuestNetworkRoute)),
  "guest-get-load": c({}, q.struct("GuestLoadAverage", { load1: q.number, load5: q.number, load15: q.number })),
  "__org.guestlink_guest-network-get-links": c({}, q.list(GuestNetworkLink)),
} as const satisfies Record<string, CommandSchema>;

export const EXTENSION_GET_LINKS = "__org.guestlink_guest-network-get-links";

export const COMMAND_SCHEMAS: Record<string, CommandSchema> = { ...QGA_72_SCHEMAS, ...EXTRA_SCHEMAS };

/** KubeVirt treats an agent as supported only when guest-info lists all of these as enabled. */
export const KUBEVIRT_REQUIRED_COMMANDS = [
  "guest-ping", "guest-get-time", "guest-info", "guest-shutdown", "guest-network-get-interfaces",
  "guest-get-fsinfo", "guest-get-host-name", "guest-get-users", "guest-get-timezone", "guest-get-osinfo",
] as const;
