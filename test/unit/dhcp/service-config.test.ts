import { describe, expect, it } from "vitest";
import { parseInterfaceSpec } from "../../../metadata-server/dhcp/daemon.ts";
import { resolveInterfaces } from "../../../metadata-server/dhcp/service.ts";
import { site } from "./fixtures.ts";

describe("--interface IF[=NETWORK]", () => {
  it("parses both forms and rejects malformed ones", () => {
    expect(parseInterfaceSpec("br-lan")).toEqual({ ifname: "br-lan" });
    expect(parseInterfaceSpec("br-lan=lan")).toEqual({ ifname: "br-lan", network: "lan" });
    for (const bad of ["", "=lan", "br-lan=", "a=b=c", "much-too-long-interface-name", "br lan"]) expect(parseInterfaceSpec(bad)).toBeUndefined();
  });

  it("finds the network from the hosts' links, or asks for it", () => {
    const s = site();
    s.hosts = [{ name: "hv1", links: [], networks: { lan: "br-lan", pool: "br-pool" } }, { name: "hv2", links: [], networks: { lan: "br-lan" } }];
    expect(resolveInterfaces(s, [{ ifname: "br-lan" }, { ifname: "br-pool" }])).toEqual([{ ifname: "br-lan", network: "lan" }, { ifname: "br-pool", network: "pool" }]);
    expect(resolveInterfaces(s, [{ ifname: "eth9" }])).toHaveProperty("error");
    expect(resolveInterfaces(s, [{ ifname: "eth9", network: "nope" }])).toHaveProperty("error");
    expect(resolveInterfaces(s, [{ ifname: "eth9", network: "pool" }])).toEqual([{ ifname: "eth9", network: "pool" }]);
    s.hosts[1]!.networks = { pool: "br-lan" };
    expect(resolveInterfaces(s, [{ ifname: "br-lan" }])).toHaveProperty("error");
  });
});
