// The MTU consistency check over 10,000 VMs with 2 vNICs each, every guest reporting.
// Target (issue "guests report back"): under 1 s. Measured on the resolved site, as the API and
// the CLI run it after loading the inventory.
import { performance } from "node:perf_hooks";
import { parseSite } from "../metadata-server/inventory/load.ts";
import { checkMtu } from "../metadata-server/model/consistency.ts";
import type { ObservedGuest } from "../metadata-server/observe/types.ts";

const VMS = 10_000;
const lines = [
  "version: 1",
  "macPools: [{ name: p, start: \"02:00:00:00:00:00\", end: \"02:00:00:ff:ff:ff\" }]",
  "networks:",
  "  - { name: lan, type: bridge, ipv4: { subnet: 10.0.0.0/16, gateway: 10.0.0.1 } }",
  "  - { name: ovl, type: ovn, ipv4: { subnet: 10.1.0.0/16, gateway: 10.1.0.1, dhcp: false } }",
  "hosts:",
  "  - { name: hv1, links: [{ name: eno1, type: nic, mtu: 9000 }, { name: br0, type: bridge, members: [eno1], mtu: 1500 }], networks: { lan: br0 }, tunnelLink: br0 }",
  "vms:",
];
for (let i = 0; i < VMS; i++) {
  lines.push(`  - { id: 00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}, name: vm-${i}, host: hv1, nics: [{ network: lan }, { network: ovl }] }`);
}
const site = parseSite(lines.join("\n") + "\n", "bench.yaml", {}).site!;
const guests = new Map<string, ObservedGuest>();
for (const vm of site.vms) {
  guests.set(vm.id, {
    vmId: vm.id, source: "bench", at: "2026-11-24T00:00:00Z",
    interfaces: vm.interfaces.map((i, n) => ({ name: i.name, mac: i.mac, mtu: n === 0 ? 1500 : 1442, addresses: [] })),
  });
}
checkMtu({ site, guests }); // warm-up
const t0 = performance.now();
const report = checkMtu({ site, guests });
const ms = performance.now() - t0;
console.log(`mtu-check: ${report.summary.interfaces} interfaces on ${VMS} VMs in ${ms.toFixed(0)} ms, ${report.summary.inconsistent} inconsistent`);
console.log(`ratio measured/target (1000 ms): ${(ms / 1000).toFixed(3)} ${ms < 1000 ? "PASS" : "FAIL"}`);
