// The extension and interface collectors over a fixture /sys tree (test/fixtures/agent/sysfs-links).
import { describe, it, expect } from "vitest";
import { join } from "node:path";
import { FsRoot } from "../../../agent/collectors/fsroot.ts";
import { collectLinks, collectInterfaces, compressIpv6, linkNames } from "../../../agent/collectors/network.ts";
import { collectRoutes } from "../../../agent/collectors/routes.ts";
import { toZod, GuestNetworkLink, GuestNetworkInterface } from "../../../agent/protocol/index.ts";

const fs = new FsRoot(join(import.meta.dirname, "../../fixtures/agent/sysfs-links"));
const addresses = () => ({
  lo: [{ family: "IPv4", address: "127.0.0.1", cidr: "127.0.0.1/8", netmask: "255.0.0.0" }, { family: "IPv6", address: "::1", cidr: "::1/128", netmask: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" }],
  eth0: [{ family: "IPv6", address: "fe80::5054:ff:fe12:3456", cidr: null, netmask: "ffff:ffff:ffff:ffff::" }, { family: "IPv4", address: "192.0.2.10", cidr: "192.0.2.10/24", netmask: "255.255.255.0" }],
});

describe("link collector (extension)", () => {
  const links = collectLinks(fs, addresses);
  const byName = Object.fromEntries(links.map((l) => [l.name, l]));

  it("lists links in ifindex order", () => {
    expect(linkNames(fs)).toEqual(["lo", "eth0", "ens1f0v0", "bond0", "bond0.100", "br0", "tun0"]);
  });

  it("classifies virtio, SR-IOV VF, bond, VLAN, bridge, tun and loopback", () => {
    expect(Object.fromEntries(links.map((l) => [l.name, l.type]))).toEqual({
      lo: "loopback", eth0: "virtio", ens1f0v0: "sriov-vf", bond0: "bond", "bond0.100": "vlan", br0: "bridge", tun0: "tun",
    });
    expect(byName.eth0!.driver).toBe("virtio_net");
    expect(byName.ens1f0v0!.driver).toBe("iavf");
    expect(byName.ens1f0v0!.master).toBe("bond0");
    expect(byName["bond0.100"]).toMatchObject({ parent: "bond0", "vlan-id": 100 });
  });

  it("reports state, carrier, MTU, speed and duplex, omitting what the kernel cannot say", () => {
    expect(byName.ens1f0v0).toMatchObject({ operstate: "up", carrier: true, mtu: 9000, speed: 10000, duplex: "full", "hardware-address": "02:aa:bb:cc:dd:01" });
    expect(byName.eth0!.speed).toBeUndefined(); // virtio reports -1
    expect(byName.br0).toMatchObject({ operstate: "down", mtu: 1500 });
    expect(byName.br0!.carrier).toBeUndefined();
    expect(byName["bond0.100"]).toMatchObject({ operstate: "lowerlayerdown", carrier: false, mtu: 1496 });
    expect(byName.tun0!["hardware-address"]).toBe("00:00:00:00:00:00");
  });

  it("attaches addresses; IPv6 of links that are down comes from /proc", () => {
    expect(byName.eth0!["ip-addresses"]).toEqual([
      { "ip-address": "192.0.2.10", "ip-address-type": "ipv4", prefix: 24 },
      { "ip-address": "fe80::5054:ff:fe12:3456", "ip-address-type": "ipv6", prefix: 64 },
    ]);
    expect(byName.br0!["ip-addresses"]).toEqual([{ "ip-address": "fe80::1", "ip-address-type": "ipv6", prefix: 64 }]);
  });

  it("matches the extension's schema", () => {
    const schema = toZod({ kind: "list", of: GuestNetworkLink });
    expect(schema.safeParse(JSON.parse(JSON.stringify(links))).success).toBe(true);
  });
});

describe("interface collector (guest-network-get-interfaces)", () => {
  const ifaces = collectInterfaces(fs, addresses);

  it("gives every link a name and MAC; statistics only where there are addresses", () => {
    expect(ifaces.map((i) => i.name)).toEqual(["lo", "eth0", "ens1f0v0", "bond0", "bond0.100", "br0", "tun0"]);
    expect(ifaces[1]).toMatchObject({ "hardware-address": "52:54:00:12:34:56", statistics: { "rx-bytes": 127039896, "rx-errs": 1, "tx-dropped": 4 } });
    expect(ifaces.find((i) => i.name === "bond0")!.statistics).toBeUndefined();
    expect(ifaces.find((i) => i.name === "bond0")!["ip-addresses"]).toBeUndefined();
    const schema = toZod({ kind: "list", of: GuestNetworkInterface });
    expect(schema.safeParse(JSON.parse(JSON.stringify(ifaces))).success).toBe(true);
  });

  it("prints IPv6 as inet_ntop does", () => {
    expect(compressIpv6(["fe80", "0", "0", "0", "0", "0", "0", "1"])).toBe("fe80::1");
    expect(compressIpv6(["2001", "db8", "0", "1", "0", "0", "0", "1"])).toBe("2001:db8:0:1::1");
    expect(compressIpv6(["0", "0", "0", "0", "0", "ffff", "c000", "201"])).toBe("::ffff:192.0.2.1");
  });

  it("reads routes from /proc/net/route", () => {
    const routes = collectRoutes(fs);
    expect(routes[0]).toMatchObject({ iface: "eth0", destination: "0.0.0.0", gateway: "192.0.2.1", metric: 100, version: 4 });
    expect(routes[1]).toMatchObject({ destination: "192.0.2.0", mask: "255.255.255.0" });
  });

  it("reads IPv6 routes from /proc/net/ipv6_route and prints them as inet_ntop does", () => {
    const v6 = collectRoutes(fs).filter((r) => r.version === 6);
    expect(v6).toHaveLength(3);
    expect(v6[0]).toMatchObject({ iface: "eth0", destination: "::", desprefixlen: "0", source: "::", nexthop: "fe80::1", metric: 1024, flags: 0x450003 });
    expect(v6[1]).toMatchObject({ destination: "2001:db8:0:1::", desprefixlen: "64", nexthop: "::", metric: 256 });
    expect(v6[2]).toMatchObject({ destination: "fe80::", desprefixlen: "64" });
  });
});
