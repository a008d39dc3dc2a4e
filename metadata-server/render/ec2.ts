// The EC2 instance metadata tree (the subset cloud-init's Ec2 datasource and common tools read).
// Directories are objects, leaves are strings; the HTTP layer lists directories the way EC2 does
// (a trailing "/" on subdirectories, and "0=key-0" style names under public-keys/).
import type { ResolvedVm } from "../model/types.ts";

export type Ec2Node = string | Ec2Dir;
export interface Ec2Dir { [name: string]: Ec2Node }

/** Dated versions the service answers, oldest first; cloud-init 22.4 probes the newest it knows. */
export const EC2_VERSIONS = ["1.0", "2007-01-19", "2007-03-01", "2009-04-04", "2011-01-01", "2016-09-02", "2018-09-24", "2021-03-23"] as const;

export function renderEc2MetaData(vm: ResolvedVm): Ec2Dir {
  const nics = vm.interfaces.filter((i) => i.kind === "physical");
  const primary = vm.interfaces.find((i) => i.ipv4);
  const macs: Ec2Dir = {};
  nics.forEach((nic, index) => {
    const l3 = vm.interfaces.find((i) => i.network && i.mac === nic.mac && (i.ipv4 || i.ipv6));
    const entry: Ec2Dir = { "device-number": String(index), "interface-id": `eni-${vm.id.slice(0, 8)}${index}`, mac: nic.mac, mtu: String(nic.mtu.value) };
    if (l3?.ipv4) entry["local-ipv4s"] = l3.ipv4.address;
    if (l3?.ipv6?.address) entry.ipv6s = l3.ipv6.address;
    macs[nic.mac] = entry;
  });
  const tree: Ec2Dir = {
    "ami-id": "ami-00000000",
    "ami-launch-index": "0",
    hostname: vm.fqdn,
    "instance-id": vm.id,
    "instance-type": "guestlink.vm",
    "local-hostname": vm.fqdn,
    mac: nics[0]?.mac ?? "",
    network: { interfaces: { macs } },
    placement: { "availability-zone": vm.host ?? "default" },
    services: { domain: "guestlink" },
  };
  if (primary?.ipv4) tree["local-ipv4"] = primary.ipv4.address;
  if (vm.sshKeys.length) {
    const keys: Ec2Dir = {};
    vm.sshKeys.forEach((k, i) => (keys[String(i)] = { "openssh-key": k }));
    tree["public-keys"] = keys;
  }
  return tree;
}

/** Text of one path under meta-data/ ("" = the root listing), or undefined when there is none. */
export function ec2Lookup(tree: Ec2Dir, path: string): string | undefined {
  const parts = path.split("/").filter((p) => p.length > 0);
  let node: Ec2Node = tree;
  for (const part of parts) {
    if (typeof node === "string") return undefined;
    const next: Ec2Node | undefined = Object.prototype.hasOwnProperty.call(node, part) ? node[part] : undefined;
    if (next === undefined) return undefined;
    node = next;
  }
  if (typeof node === "string") return node;
  const inPublicKeys = parts.length === 1 && parts[0] === "public-keys";
  return Object.entries(node)
    .map(([name, child]) => (inPublicKeys ? `${name}=key-${name}` : typeof child === "string" ? name : `${name}/`))
    .join("\n");
}
