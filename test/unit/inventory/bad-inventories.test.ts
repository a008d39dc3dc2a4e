// Each kind of mistake an operator makes in an inventory, with the code, field, line and words
// the error must have. The line is marked in each case's text with "# <-" so the expectation
// stays right when a case is edited.
import { describe, expect, it } from "vitest";
import { parseSite } from "../../../metadata-server/inventory/load.ts";
import { formatIssue, formatPath, type IssueCode } from "../../../metadata-server/inventory/issues.ts";

const TEMPLATES = { basic: "#cloud-config\nhostname: {{ hostname }}\npackages: {{ packages }}\n" };

/** A small valid site; cases append to or edit it. */
const BASE = `version: 1
macPools:
  - { name: default, start: "02:00:00:00:00:00", end: "02:00:00:00:00:0f" }
networks:
  - name: lan
    type: bridge
    ipv4: { subnet: 192.0.2.0/24, gateway: 192.0.2.1 }
vms:
  - id: 11111111-1111-4111-8111-111111111111
    name: vm1
    nics:
      - { network: lan, mac: "52:54:00:00:00:01", ipv4: { mode: static, address: 192.0.2.10 } }
`;

interface Case {
  name: string;
  yaml: string;
  code: IssueCode;
  field: string;
  message: RegExp;
}

const cases: Case[] = [
  {
    name: "YAML that does not parse",
    yaml: BASE + "  - id: [unclosed\n    name: broken # <-\n",
    code: "YAML_SYNTAX", field: "(top level)", message: /flow sequence|Missing|closing|Unexpected/i,
  },
  {
    name: "a key given twice",
    yaml: BASE.replace("    type: bridge\n", "    type: bridge\n    type: sriov # <-\n"),
    code: "YAML_DUPLICATE_KEY", field: "(top level)", message: /unique|duplicate/i,
  },
  {
    name: "a required field left out",
    yaml: BASE.replace("    name: vm1\n", "    name: vm1\n").replace("  - id: 11111111-1111-4111-8111-111111111111\n", "  - name: noid # <-\n    nics: [{ network: lan }]\n  - id: 11111111-1111-4111-8111-111111111111\n"),
    code: "REQUIRED", field: "vms[0].id", message: /id is required/,
  },
  {
    name: "a misspelt field",
    yaml: BASE.replace("gateway: 192.0.2.1 }", "gateway: 192.0.2.1 }\n    dsn: { servers: [192.0.2.53] } # <-"),
    code: "UNKNOWN_FIELD", field: "networks[0].dsn", message: /unknown field "dsn" \(did you mean "dns"\?\)/,
  },
  {
    name: "a field of the wrong type",
    yaml: BASE.replace("    type: bridge\n", "    type: bridge\n    mtu: jumbo # <-\n"),
    code: "TYPE", field: "networks[0].mtu", message: /must be a whole number/,
  },
  {
    name: "a network type that does not exist",
    yaml: BASE.replace("    type: bridge\n", "    type: vxlan-bridge # <-\n"),
    code: "INVALID_VALUE", field: "networks[0].type", message: /must be one of "bridge", "sriov", "ovn", "neutron-ovn"/,
  },
  {
    name: "a malformed MAC address",
    yaml: BASE.replace('mac: "52:54:00:00:00:01"', 'mac: "52:54:00:00:01" } # <-\n      - { network: lan'),
    code: "INVALID_VALUE", field: "vms[0].nics[0].mac", message: /must be a MAC address/,
  },
  {
    name: "the same MAC on two vNICs",
    yaml: BASE + `  - id: 22222222-2222-4222-8222-222222222222
    name: vm2
    nics:
      - { network: lan, mac: "52:54:00:00:00:01" } # <-
`,
    code: "DUPLICATE_MAC", field: "vms[1].nics[0].mac", message: /MAC 52:54:00:00:00:01 is already used by vms\[0\]\.nics\[0\]\.mac/,
  },
  {
    name: "the same address on two VMs",
    yaml: BASE + `  - id: 22222222-2222-4222-8222-222222222222
    name: vm2
    nics:
      - { network: lan, ipv4: { mode: static, address: 192.0.2.10 } } # <-
`,
    code: "DUPLICATE_IP", field: "vms[1].nics[0].ipv4.address", message: /192\.0\.2\.10 on network lan is already used by vms\[0\]/,
  },
  {
    name: "an address outside its subnet",
    yaml: BASE.replace("address: 192.0.2.10 } }", "address: 198.51.100.10 } } # <-"),
    code: "ADDRESS_OUTSIDE_SUBNET", field: "vms[0].nics[0].ipv4.address", message: /198\.51\.100\.10 is outside the subnet 192\.0\.2\.0\/24 of network lan/,
  },
  {
    name: "a gateway outside its subnet",
    yaml: BASE.replace("gateway: 192.0.2.1 }", "gateway: 192.0.3.1 } # <-"),
    code: "ADDRESS_OUTSIDE_SUBNET", field: "networks[0].ipv4.gateway", message: /gateway 192\.0\.3\.1 is outside the subnet 192\.0\.2\.0\/24/,
  },
  {
    name: "a vNIC on a network that does not exist",
    yaml: BASE + `  - id: 22222222-2222-4222-8222-222222222222
    name: vm2
    nics:
      - { network: wan } # <-
`,
    code: "UNKNOWN_REFERENCE", field: "vms[1].nics[0].network", message: /there is no network named wan/,
  },
  {
    name: "an MTU below the IPv4 minimum",
    yaml: BASE.replace("    type: bridge\n", "    type: bridge\n    mtu: 60 # <-\n"),
    code: "MTU_IMPOSSIBLE", field: "networks[0].mtu", message: /MTU 60 is impossible: below 68/,
  },
  {
    name: "an MTU below 1280 on a network with IPv6",
    yaml: BASE.replace("    type: bridge\n", "    type: bridge\n    mtu: 1200 # <-\n    ipv6: { prefix: \"2001:db8::/64\" }\n"),
    code: "MTU_IMPOSSIBLE", field: "networks[0].mtu", message: /MTU 1200 is impossible on a network with IPv6: below 1280/,
  },
  {
    name: "an MTU larger than the host path it rides on",
    yaml: BASE.replace("    type: bridge\n", "    type: bridge\n    mtu: 9000 # <-\n") + `hosts:
  - name: hv1
    links:
      - { name: eno1, type: nic, mtu: 9000 }
      - { name: eno1.10, type: vlan, parent: eno1, vlan: 10, mtu: 1500 }
      - { name: br-lan, type: bridge, members: [eno1.10], mtu: 9000 }
    networks: { lan: br-lan }
`,
    code: "MTU_IMPOSSIBLE", field: "networks[0].mtu", message: /MTU 9000 is impossible on host hv1: it rides on br-lan.*eno1\.10 \(vlan, MTU 1500\)/,
  },
  {
    name: "an overlay MTU the underlay cannot carry after GENEVE's overhead",
    yaml: BASE.replace("    type: bridge\n", "    type: ovn\n    mtu: 1500 # <-\n"),
    code: "MTU_IMPOSSIBLE", field: "networks[0].mtu", message: /at most 1442 is left \(or raise the underlay MTU to 1558\)/,
  },
  {
    name: "a VLAN inside the guest larger than its parent",
    yaml: BASE.replace("vms:\n", `  - { name: trunk, type: bridge, mtu: 1500 }
  - { name: big, type: bridge, vlan: 40, mtu: 9000 }
vms:
`) + `    vlans:
      - { link: eth0, network: big } # <-
`,
    code: "MTU_IMPOSSIBLE", field: "vms[0].vlans[0].network", message: /VLAN network big has MTU 9000, above its parent eth0 \(MTU 1500\)/,
  },
  {
    name: "two networks with one name",
    yaml: BASE.replace("vms:\n", "  - { name: lan, type: sriov } # <-\nvms:\n"),
    code: "DUPLICATE_NAME", field: "networks[1].name", message: /network "lan" is already defined at networks\[0\]/,
  },
  {
    name: "a VM given the gateway's address",
    yaml: BASE.replace("address: 192.0.2.10 } }", "address: 192.0.2.1 } } # <-"),
    code: "ADDRESS_RESERVED", field: "vms[0].nics[0].ipv4.address", message: /192\.0\.2\.1 is the gateway of network lan/,
  },
  {
    name: "a multicast MAC",
    yaml: BASE.replace('mac: "52:54:00:00:00:01"', 'mac: "01:00:5e:00:00:01" } # <-\n      - { network: lan'),
    code: "INVALID_VALUE", field: "vms[0].nics[0].mac", message: /multicast address/,
  },
  {
    name: "more vNICs than the MAC pool holds",
    yaml: BASE.replace('end: "02:00:00:00:00:0f"', 'end: "02:00:00:00:00:00"') + `  - id: 22222222-2222-4222-8222-222222222222
    name: vm2
    nics:
      - { network: lan }
      - { network: lan } # <-
`,
    code: "POOL_EXHAUSTED", field: "vms[1].nics[1]", message: /MAC pool default has no free address left/,
  },
  {
    name: "a template variable that is not given",
    yaml: BASE.replace("    name: vm1\n", "    name: vm1\n    userData: { template: basic, vars: {} } # <-\n"),
    code: "TEMPLATE", field: "vms[0].userData.vars", message: /template basic needs variable packages, which is not given/,
  },
  {
    name: "a template that does not exist",
    yaml: BASE.replace("    name: vm1\n", "    name: vm1\n    userData: { template: fancy } # <-\n"),
    code: "UNKNOWN_REFERENCE", field: "vms[0].userData.template", message: /no user-data template named fancy \(known: basic\)/,
  },
  {
    name: "a bond across two networks",
    yaml: BASE.replace("vms:\n", "  - { name: other, type: bridge }\nvms:\n") + `      - { name: eth1, network: lan, ipv4: none }
      - { name: eth2, network: other }
    bonds:
      - { name: bond0, interfaces: [eth1, eth2] } # <-
`,
    code: "BAD_TOPOLOGY", field: "vms[0].bonds[0].interfaces", message: /bond bond0 joins NICs on different networks \(lan, other\)/,
  },
  {
    name: "IPv6 asked for on a network without a prefix",
    yaml: BASE.replace("address: 192.0.2.10 }", "address: 192.0.2.10 }, ipv6: { mode: static } } # <-\n      - { network: lan"),
    code: "NO_SUBNET", field: "vms[0].nics[0].ipv6", message: /network lan has no IPv6 prefix to address eth0 from/,
  },
  {
    name: "a route whose gateway is of the other family",
    yaml: BASE.replace("gateway: 192.0.2.1 }", "gateway: 192.0.2.1 }\n    routes: [{ to: 198.51.100.0/24, via: \"2001:db8::1\" }] # <-"),
    code: "FAMILY_MISMATCH", field: "networks[0].routes[0].via", message: /route to 198\.51\.100\.0\/24 is IPv4 but its gateway 2001:db8::1 is IPv6/,
  },
  {
    name: "two VMs with one id",
    yaml: BASE + `  - id: 11111111-1111-4111-8111-111111111111 # <-
    name: vm2
    nics: [{ network: lan }]
`,
    code: "DUPLICATE_NAME", field: "vms[1].id", message: /VM id "11111111-1111-4111-8111-111111111111" is already defined at vms\[0\]/,
  },
  {
    name: "a subnet with host bits set",
    yaml: BASE.replace("subnet: 192.0.2.0/24", "subnet: 192.0.2.7/24 # <-\n     "),
    code: "INVALID_VALUE", field: "networks[0].ipv4.subnet", message: /has host bits set \(the network is 192\.0\.2\.0\/24\)/,
  },
];

describe("bad inventories: each mistake gives its code, field, line and words", () => {
  it("has at least 15 kinds of mistake", () => {
    expect(new Set(cases.map((c) => c.name)).size).toBeGreaterThanOrEqual(15);
    expect(new Set(cases.map((c) => c.code)).size).toBeGreaterThanOrEqual(13);
  });

  it.each(cases)("$name", (c) => {
    const base = parseSite(BASE, "base.yaml", TEMPLATES);
    expect(base.issues, "the base inventory must be valid").toEqual([]);
    const result = parseSite(c.yaml, "site.yaml", TEMPLATES);
    expect(result.site, "a bad inventory must not produce a site").toBeUndefined();
    const match = result.issues.find((i) => i.code === c.code && formatPath(i.path) === c.field);
    expect(match, `no ${c.code} at ${c.field}; got:\n${result.issues.map(formatIssue).join("\n")}`).toBeDefined();
    expect(match!.message).toMatch(c.message);
    expect(match!.file).toBe("site.yaml");
    const markedLine = c.yaml.split("\n").findIndex((l) => l.includes("# <-")) + 1;
    expect(markedLine, "each case marks its line").toBeGreaterThan(0);
    // Syntax errors may be noticed on the line after the one that opened the problem.
    const slack = c.code === "YAML_SYNTAX" ? 1 : 0;
    expect(Math.abs(match!.line! - markedLine), formatIssue(match!)).toBeLessThanOrEqual(slack);
    expect(formatIssue(match!)).toMatch(new RegExp(`^site\\.yaml:${match!.line}:\\d+: `));
  });
});

describe("every problem is reported, not just the first", () => {
  it("reports three unrelated mistakes together, in file order", () => {
    const yaml = BASE.replace("gateway: 192.0.2.1 }", "gateway: 192.0.3.1 }")
      + `  - id: 22222222-2222-4222-8222-222222222222
    name: vm2
    nics:
      - { network: wan }
      - { network: lan, mac: "52:54:00:00:00:01" }
`;
    const result = parseSite(yaml, "site.yaml", TEMPLATES);
    expect(result.issues.map((i) => i.code).sort()).toEqual(["ADDRESS_OUTSIDE_SUBNET", "DUPLICATE_MAC", "UNKNOWN_REFERENCE"]);
    const lines = result.issues.map((i) => i.line!);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
  });

  it("reports every schema problem of one file at once", () => {
    const yaml = BASE.replace("    type: bridge\n", "    type: bridg\n    mtu: x\n    colour: blue\n");
    const result = parseSite(yaml, "site.yaml", TEMPLATES);
    expect(result.issues.map((i) => i.code).sort()).toEqual(["INVALID_VALUE", "TYPE", "UNKNOWN_FIELD"]);
  });
});

describe("limits", () => {
  it("refuses a file over the size limit without parsing it", () => {
    const result = parseSite(BASE + "#".repeat(200), "big.yaml", TEMPLATES, { maxFileBytes: 100, maxAliasCount: 10, maxNodes: 1000 });
    expect(result.issues.map((i) => i.code)).toEqual(["FILE_TOO_LARGE"]);
  });

  it("refuses alias bombs", () => {
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
`;
    const result = parseSite(bomb, "bomb.yaml", TEMPLATES, { maxFileBytes: 1 << 20, maxAliasCount: 50, maxNodes: 5000 });
    expect(result.issues[0]?.code).toBe("YAML_SYNTAX");
    expect(result.issues[0]?.message).toMatch(/alias/i);
  });
});
