// Reads a seed directory through the installed cloud-init (test/peers/cloud_init_read.py) and
// returns what cloud-init understood: datasource facts, interfaces, and the MTU per renderer.
import { join } from "node:path";
import { run, SYSTEM_PYTHON } from "./peers.ts";

export interface CloudInitSubnet {
  type: string;
  address?: string;
  prefix?: number;
  gateway?: string;
  routes?: { network: string; prefix: number; gateway: string }[];
  dns?: string[];
}

export interface CloudInitInterface {
  name: string;
  type: string;
  mac: string | null;
  mtu: number | string | null;
  subnets: CloudInitSubnet[];
  bond_master: string | null;
  vlan_id: number | null;
  vlan_link: string | null;
}

export interface CloudInitView {
  datasource: "nocloud" | "configdrive";
  errors: string[];
  warnings: string[];
  instance_id?: string;
  /** ConfigDrive only: instance-id from ec2/latest/meta-data.json, as cloud-init read it. */
  ec2_instance_id?: string | null;
  hostname?: string;
  public_keys?: string[];
  userdata?: { kind: string; valid?: boolean; keys?: string[] };
  vendordata?: { kind: string; valid?: boolean };
  interfaces: CloudInitInterface[];
  rendered: Record<"networkd" | "netplan" | "eni" | "sysconfig", Record<string, number | null>>;
}

const SCRIPT = join(import.meta.dirname, "..", "peers", "cloud_init_read.py");

export function readSeedWithCloudInit(seedDir: string, macNames: Record<string, string> = {}): CloudInitView {
  const args = [SCRIPT, seedDir];
  for (const [mac, name] of Object.entries(macNames)) args.push("--mac", `${name},${mac}`);
  const r = run(SYSTEM_PYTHON, args);
  if (r.status !== 0) throw new Error(`cloud_init_read.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as CloudInitView;
}
