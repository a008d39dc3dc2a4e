// Properties over random inventories: whatever validates renders without throwing, renders the
// same bytes every time, emits YAML that a YAML 1.1 reader sees as the same data, and never gives
// a guest interface an MTU above the layer under it.
import fc from "fast-check";
import { parse as parseYaml, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { parseSite } from "../../../metadata-server/inventory/load.ts";
import type { ResolvedSite } from "../../../metadata-server/model/types.ts";
import { renderEc2MetaData } from "../../../metadata-server/render/ec2.ts";
import { SEED_FORMATS } from "../../../metadata-server/render/registry.ts";
import { seedFiles } from "../../../metadata-server/seed/layout.ts";

const TEMPLATES = { basic: "#cloud-config\nhostname: {{ hostname }}\n" };
const TYPES = ["bridge", "sriov", "ovn", "neutron-ovn"] as const;

const network = (i: number) =>
  fc.record({
    type: fc.constantFrom(...TYPES),
    mtu: fc.option(fc.integer({ min: 1280, max: 9000 }), { nil: undefined }),
    vlan: fc.option(fc.integer({ min: 1, max: 4094 }), { nil: undefined }),
    v4: fc.option(fc.record({ dhcp: fc.boolean(), gateway: fc.boolean() }), { nil: undefined }),
    v6: fc.option(fc.constantFrom("slaac", "dhcpv6-stateless", "dhcpv6-stateful", "static"), { nil: undefined }),
    policy: fc.constantFrom("prefer-dhcp", "static"),
  }).map((n) => ({
    name: `net${i}`,
    type: n.type,
    ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
    ...(n.vlan !== undefined ? { vlan: n.vlan } : {}),
    mtuPolicy: n.policy,
    ...(n.v4 ? { ipv4: { subnet: `10.${i}.0.0/16`, dhcp: n.v4.dhcp, ...(n.v4.gateway ? { gateway: `10.${i}.0.1` } : {}) } } : {}),
    ...(n.v6 ? { ipv6: { prefix: `2001:db8:${i}::/64`, mode: n.v6, gateway: `2001:db8:${i}::1` } } : {}),
    dns: { servers: [`192.0.2.${i + 1}`], search: [`net${i}.test`] },
  }));

const inventory = fc.integer({ min: 1, max: 4 }).chain((netCount) =>
  fc.record({
    networks: fc.tuple(...Array.from({ length: netCount }, (_, i) => network(i))),
    vms: fc.array(
      fc.record({
        nics: fc.array(fc.integer({ min: 0, max: netCount - 1 }), { minLength: 1, maxLength: 4 }),
        bond: fc.boolean(),
        keys: fc.array(fc.constantFrom("ssh-ed25519 AAAAkey1 a@b", "ssh-rsa AAAAkey2 c:d"), { maxLength: 2 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  }).map(({ networks, vms }) => ({
    version: 1,
    macPools: [{ name: "p", start: "02:00:00:00:00:00", end: "02:00:00:00:ff:ff" }],
    networks,
    vms: vms.map((vm, vi) => ({
      id: `00000000-0000-4000-8000-${String(vi).padStart(12, "0")}`,
      name: `vm${vi}`,
      sshKeys: vm.keys,
      userData: { template: "basic" },
      nics: vm.nics.map((n) => ({ network: `net${n}` })),
      // Bond the first two NICs when they share a network (the only case the resolver accepts).
      ...(vm.bond && vm.nics.length >= 2 && vm.nics[0] === vm.nics[1] ? { bonds: [{ name: "bond0", interfaces: ["eth0", "eth1"] }] } : {}),
    })),
  })),
);

function renderEverything(site: ResolvedSite): string[] {
  const out: string[] = [];
  for (const vm of site.vms) {
    for (const format of Object.keys(SEED_FORMATS) as (keyof typeof SEED_FORMATS)[]) {
      for (const version of [1, 2] as const) {
        for (const f of seedFiles(format, vm, { site, networkConfigVersion: version })) out.push(`${f.path}\n${new TextDecoder().decode(f.data)}`);
      }
    }
    out.push(JSON.stringify(renderEc2MetaData(vm)));
  }
  return out;
}

describe("property: rendering random valid inventories", () => {
  it("never throws, is deterministic, and emits YAML/JSON that parses back", () => {
    let valid = 0;
    fc.assert(
      fc.property(inventory, (inv) => {
        const text = stringify(inv);
        const result = parseSite(text, "gen.yaml", TEMPLATES);
        if (!result.site) return; // some random combinations are rightly refused (e.g. MTU over an overlay)
        valid++;
        const first = renderEverything(result.site);
        const again = renderEverything(parseSite(text, "gen.yaml", TEMPLATES).site!);
        expect(again).toEqual(first);
        for (const doc of first) {
          const [path, ...rest] = doc.split("\n");
          const body = rest.join("\n");
          if (path!.endsWith(".json")) JSON.parse(body);
          else if (path === "meta-data" || path === "network-config") {
            // YAML 1.1 is what cloud-init's PyYAML speaks: MACs must stay strings there too.
            const data = parseYaml(body, { version: "1.1" }) as Record<string, unknown>;
            expect(typeof data).toBe("object");
            const macs = [...body.matchAll(/"([0-9a-f]{2}(?::[0-9a-f]{2}){5})"/g)].map((m) => m[1]);
            for (const mac of macs) expect(JSON.stringify(data)).toContain(mac);
          }
        }
      }),
      { numRuns: 150 },
    );
    expect(valid, "the generator must produce valid inventories most of the time").toBeGreaterThan(50);
  });

  it("gives no guest interface an MTU above the layer under it", () => {
    fc.assert(
      fc.property(inventory, (inv) => {
        const result = parseSite(stringify(inv), "gen.yaml", TEMPLATES);
        if (!result.site) return;
        const networks = new Map(result.site.networks.map((n) => [n.name, n]));
        for (const vm of result.site.vms) {
          for (const iface of vm.interfaces) {
            if (iface.kind === "physical" && iface.network) expect(iface.mtu.value).toBe(networks.get(iface.network)!.mtu.value);
            if (iface.kind === "vlan") expect(iface.mtu.value).toBeLessThanOrEqual(vm.interfaces.find((i) => i.name === iface.vlanLink)!.mtu.value);
            if (iface.kind === "bond") {
              for (const m of iface.members!) expect(vm.interfaces.find((i) => i.name === m)!.mtu.value).toBe(iface.mtu.value);
            }
            expect(iface.mtu.because.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
