// Resolve and render a 10,000-VM site: both seed formats, as files and as ISO images.
// Target (issue "metadata core"): the whole run under 5 s on the 2-core reference machine.
import { performance } from "node:perf_hooks";
import { stringify } from "yaml";
import { parseSite } from "../metadata-server/inventory/load.ts";
import { seedFiles, seedImage } from "../metadata-server/seed/layout.ts";
import type { RenderContext } from "../metadata-server/render/context.ts";

const VMS = Number(process.env.BENCH_VMS ?? 10_000);
const TARGET_MS = 5_000;

function generateInventory(vms: number): string {
  const networks = [
    { name: "mgmt", type: "bridge", vlan: 10, ipv4: { subnet: "10.0.0.0/16", gateway: "10.0.0.1" }, ipv6: { prefix: "2001:db8:10::/64", gateway: "2001:db8:10::1", mode: "slaac" }, dns: { servers: ["10.0.0.53"], search: ["example.test"] } },
    { name: "tenant", type: "ovn", ipv4: { subnet: "10.1.0.0/16", gateway: "10.1.0.1", dhcp: false }, routes: [{ to: "198.18.0.0/15", via: "10.1.0.254" }] },
  ];
  const list = [];
  for (let i = 0; i < vms; i++) {
    const hex = i.toString(16).padStart(12, "0");
    list.push({
      id: `00000000-0000-4000-8000-${hex}`,
      name: `vm-${i}`,
      sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyBenchKeyBenchKeyBenchKeyBenchKey bench@example.test"],
      userData: { template: "basic", vars: { packages: ["nginx"] } },
      nics: [{ network: "mgmt", ipv4: { mode: "dhcp" } }, { network: "tenant" }],
    });
  }
  return stringify({ version: 1, macPools: [{ name: "default", start: "02:00:00:00:00:00", end: "02:00:00:ff:ff:ff" }], networks, vms: list });
}

const templates = { basic: "#cloud-config\nhostname: {{ hostname }}\nfqdn: {{ fqdn }}\npackages: {{ packages }}\n" };
const text = generateInventory(VMS);
console.log(`inventory: ${VMS} VMs, ${(text.length / 1024 / 1024).toFixed(1)} MiB of YAML`);

const t0 = performance.now();
const loaded = parseSite(text, "bench.yaml", templates);
const t1 = performance.now();
if (!loaded.site) {
  console.error(loaded.issues.slice(0, 5));
  process.exit(1);
}
const site = loaded.site;
const ctx: RenderContext = { site };
let bytes = 0;
for (const vm of site.vms) for (const format of ["nocloud", "configdrive"] as const) for (const f of seedFiles(format, vm, ctx)) bytes += f.data.length;
const t2 = performance.now();
let isoBytes = 0;
const stamp = new Date(Date.UTC(2026, 0, 1));
for (const vm of site.vms) for (const format of ["nocloud", "configdrive"] as const) isoBytes += seedImage(format, vm, ctx, stamp).length;
const t3 = performance.now();

const total = t3 - t0;
console.log(`parse + validate + resolve: ${(t1 - t0).toFixed(0)} ms`);
console.log(`render both formats (files): ${(t2 - t1).toFixed(0)} ms, ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
console.log(`render both formats (ISO images, incl. rendering): ${(t3 - t2).toFixed(0)} ms, ${(isoBytes / 1024 / 1024).toFixed(0)} MiB, ${((t3 - t2) * 1000 / (VMS * 2)).toFixed(0)} µs/image`);
console.log(`total: ${total.toFixed(0)} ms for ${VMS} VMs (target < ${TARGET_MS} ms): ${total < TARGET_MS ? "PASS" : "FAIL"}`);
console.log(`ratio measured/target: ${(total / TARGET_MS).toFixed(2)}`);
