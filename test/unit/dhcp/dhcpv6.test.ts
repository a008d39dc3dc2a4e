import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildDhcpPlan } from "../../../metadata-server/dhcp/plan.ts";
import {
  Msg6, Opt6, clientMac, decodeDhcp6, duidLl, encodeDhcp6, handleDhcp6, option6, type Dhcp6Context,
} from "../../../metadata-server/dhcp/dhcpv6.ts";
import { LAN_MAC, site } from "./fixtures.ts";

const SERVER_DUID = duidLl("02:00:00:00:00:01");
// DUID-LLT (type 1, hardware type 1, time, MAC) as dhclient -6 sends it.
const CLIENT_DUID = Uint8Array.of(0, 1, 0, 1, 0x2a, 0, 0, 1, 2, 0, 0, 0, 0, 0x10);

function ctx(mode: "dhcpv6-stateless" | "dhcpv6-stateful" | "slaac"): Dhcp6Context {
  const s = site();
  s.networks[0]!.ipv6!.mode = mode;
  s.vms[0]!.interfaces[0]!.ipv6 = { method: mode === "dhcpv6-stateful" ? "dhcpv6-stateful" : "slaac", address: "2001:db8:1::10", prefixLength: 64, origin: "inventory" };
  return { network: "lan", plan: buildDhcpPlan(s).networks[0]!.ipv6, serverDuid: SERVER_DUID, source: "fe80::ff:fe00:10" };
}

const ia = (iaid = 1) => option6(Opt6.IA_NA, Uint8Array.of(0, 0, 0, iaid, 0, 0, 0, 0, 0, 0, 0, 0));

function replyOptions(o: ReturnType<typeof handleDhcp6>) {
  if (o.kind !== "reply") throw new Error(`expected a reply, got ${JSON.stringify(o)}`);
  const m = decodeDhcp6(o.bytes);
  if ("error" in m) throw new Error(m.error);
  return m;
}

describe("DHCPv6", () => {
  it("answers INFORMATION-REQUEST with DNS servers and the domain list (stateless)", () => {
    const m = replyOptions(handleDhcp6(encodeDhcp6(Msg6.INFORMATION_REQUEST, 0xabcdef, [option6(Opt6.CLIENTID, CLIENT_DUID)]), ctx("dhcpv6-stateless")));
    expect(m.type).toBe(Msg6.REPLY);
    expect(m.transactionId).toBe(0xabcdef);
    const dns = m.options.find((x) => x.code === Opt6.DNS_SERVERS)!.data;
    expect(Buffer.from(dns).toString("hex")).toBe("20010db8000100000000000000000053");
    const domains = m.options.find((x) => x.code === Opt6.DOMAIN_LIST)!.data;
    expect(Buffer.from(domains).toString("hex")).toBe("076578616d706c65047465737400036c6162076578616d706c650474657374" + "00");
    expect(Array.from(m.options.find((x) => x.code === Opt6.CLIENTID)!.data)).toEqual(Array.from(CLIENT_DUID));
    expect(Array.from(m.options.find((x) => x.code === Opt6.SERVERID)!.data)).toEqual(Array.from(SERVER_DUID));
  });

  it("serves nothing on a SLAAC-only network and ignores SOLICIT on a stateless one", () => {
    expect(handleDhcp6(encodeDhcp6(Msg6.INFORMATION_REQUEST, 1, []), ctx("slaac"))).toMatchObject({ kind: "drop", reason: "not-served" });
    expect(handleDhcp6(encodeDhcp6(Msg6.SOLICIT, 1, [option6(Opt6.CLIENTID, CLIENT_DUID), ia()]), ctx("dhcpv6-stateless"))).toMatchObject({ kind: "drop" });
  });

  it("advertises and then assigns the reserved address (stateful)", () => {
    const c = ctx("dhcpv6-stateful");
    const adv = handleDhcp6(encodeDhcp6(Msg6.SOLICIT, 7, [option6(Opt6.CLIENTID, CLIENT_DUID), ia(9)]), c);
    expect(adv).toMatchObject({ kind: "reply", type: Msg6.ADVERTISE, mac: LAN_MAC, address: "2001:db8:1::10" });
    const iaData = replyOptions(adv).options.find((x) => x.code === Opt6.IA_NA)!.data;
    expect(iaData[3]).toBe(9); // IAID echoed
    expect(Buffer.from(iaData.subarray(16, 32)).toString("hex")).toBe("20010db8000100000000000000000010");
    const req = handleDhcp6(encodeDhcp6(Msg6.REQUEST, 8, [option6(Opt6.CLIENTID, CLIENT_DUID), option6(Opt6.SERVERID, SERVER_DUID), ia(9)]), c);
    expect(req).toMatchObject({ kind: "reply", type: Msg6.REPLY });
    const rapid = handleDhcp6(encodeDhcp6(Msg6.SOLICIT, 9, [option6(Opt6.CLIENTID, CLIENT_DUID), option6(Opt6.RAPID_COMMIT, new Uint8Array(0)), ia()]), c);
    expect(rapid).toMatchObject({ kind: "reply", type: Msg6.REPLY });
  });

  it("finds the reservation of each plan revision: a reload that moves the address is answered with the new one", () => {
    const before = ctx("dhcpv6-stateful");
    const solicit = encodeDhcp6(Msg6.SOLICIT, 7, [option6(Opt6.CLIENTID, CLIENT_DUID), ia(1)]);
    expect(handleDhcp6(solicit, before)).toMatchObject({ address: "2001:db8:1::10" });
    const moved = site();
    moved.networks[0]!.ipv6!.mode = "dhcpv6-stateful";
    moved.vms[0]!.interfaces[0]!.ipv6 = { method: "dhcpv6-stateful", address: "2001:db8:1::99", prefixLength: 64, origin: "inventory" };
    const after = { ...before, plan: buildDhcpPlan(moved).networks[0]!.ipv6 };
    expect(handleDhcp6(solicit, after)).toMatchObject({ address: "2001:db8:1::99" });
    expect(handleDhcp6(solicit, before)).toMatchObject({ address: "2001:db8:1::10" });
  });

  it("drops REQUESTs for other servers, unknown clients and clients without an id", () => {
    const c = ctx("dhcpv6-stateful");
    expect(handleDhcp6(encodeDhcp6(Msg6.REQUEST, 1, [option6(Opt6.CLIENTID, CLIENT_DUID), option6(Opt6.SERVERID, duidLl("02:00:00:00:00:99")), ia()]), c)).toMatchObject({ reason: "other-server" });
    const stranger = Uint8Array.of(0, 3, 0, 1, 2, 0, 0, 0, 0x99, 0x99);
    expect(handleDhcp6(encodeDhcp6(Msg6.SOLICIT, 1, [option6(Opt6.CLIENTID, stranger), ia()]), { ...c, source: undefined })).toMatchObject({ reason: "unknown-client" });
    expect(handleDhcp6(encodeDhcp6(Msg6.SOLICIT, 1, [ia()]), c)).toMatchObject({ reason: "missing-client-id" });
  });

  it("recovers the MAC from DUID-LLT, DUID-LL or an EUI-64 link-local address", () => {
    expect(clientMac(CLIENT_DUID, undefined)).toBe(LAN_MAC);
    expect(clientMac(duidLl(LAN_MAC), undefined)).toBe(LAN_MAC);
    expect(clientMac(undefined, "fe80::ff:fe00:10")).toBe(LAN_MAC);
    expect(clientMac(Uint8Array.of(0, 2, 0, 0, 0, 9), "fe80::1")).toBeUndefined();
  });

  it("never throws on arbitrary bytes", () => {
    const c = ctx("dhcpv6-stateful");
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const o = handleDhcp6(b, c);
      if ("error" in decodeDhcp6(b)) expect(o.kind).toBe("drop");
    }), { numRuns: 2000 });
  });
});
