// Where __org.guestlink_guest-network-get-links gets "ipv6-mtu": the per-link IPv6 MTU the kernel
// keeps in /proc/sys/net/ipv6/conf/<link>/mtu (what an RA's MTU option changes), over a temporary
// fixture tree given to the agent as its FsRoot (GUESTLINK_AGENT_ROOT in production). It is only
// reported when it says something the link MTU does not, and is left out when the file is missing:
// IPv6 disabled at boot (ipv6.disable=1: no /proc/sys/net/ipv6 at all), or a link below 1280 (the
// kernel drops the link's IPv6 state, so conf/<link>/ goes away).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FsRoot } from "../../../agent/collectors/fsroot.ts";
import { collectLinks } from "../../../agent/collectors/network.ts";
import { buildRegistry } from "../../../agent/commands/index.ts";
import { DEFAULT_AGENT_LIMITS, type AgentEnv } from "../../../agent/commands/env.ts";
import { Dispatcher } from "../../../agent/dispatch/dispatcher.ts";
import { EXTENSION_GET_LINKS, GuestNetworkLink, JsonMessageStream, toZod } from "../../../agent/protocol/index.ts";

let root = "";

const put = (path: string, content: string) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
};

/** A plain Ethernet-type link in sysfs, and optionally its IPv6 conf directory in /proc. */
function link(name: string, ifindex: number, mtu: number, ipv6?: { mtu: string; disabled?: boolean }) {
  const sys = `sys/class/net/${name}`;
  put(`${sys}/ifindex`, `${ifindex}\n`);
  put(`${sys}/iflink`, `${ifindex}\n`);
  put(`${sys}/type`, "1\n");
  put(`${sys}/address`, `52:54:00:00:00:${ifindex.toString(16).padStart(2, "0")}\n`);
  put(`${sys}/operstate`, "up\n");
  put(`${sys}/carrier`, "1\n");
  put(`${sys}/mtu`, `${mtu}\n`);
  put(`${sys}/uevent`, `INTERFACE=${name}\nIFINDEX=${ifindex}\n`);
  if (ipv6) {
    put(`proc/sys/net/ipv6/conf/${name}/mtu`, ipv6.mtu);
    put(`proc/sys/net/ipv6/conf/${name}/disable_ipv6`, ipv6.disabled ? "1\n" : "0\n");
  }
}

/** The extension command as a client sends it, through the agent's own dispatcher. */
async function getLinks(): Promise<Record<string, Record<string, unknown>>> {
  const env: AgentEnv = {
    fs: new FsRoot(root),
    exec: { which: () => undefined, run: async () => { throw new Error("no command runs here"); } },
    clock: { nowNs: () => 0n }, limits: DEFAULT_AGENT_LIMITS,
    stateDir: join(root, "state"), osReleasePath: join(root, "etc/os-release"), version: "7.2.0",
    addressSource: () => ({}), // the fixture's links, not this machine's
  };
  const dispatcher = new Dispatcher(buildRegistry(), env);
  env.dispatcher = dispatcher;
  const [message] = new JsonMessageStream().feed(Buffer.from(`{"execute": "${EXTENSION_GET_LINKS}"}`));
  const line = (await dispatcher.dispatch(message!)).line!;
  const answer = JSON.parse(line) as { return: Record<string, unknown>[] };
  expect(toZod({ kind: "list", of: GuestNetworkLink }).safeParse(answer.return).success).toBe(true);
  return Object.fromEntries(answer.return.map((l) => [l.name as string, l]));
}

beforeEach(() => { root = mkdtempSync(join(tmpdir(), "guestlink-ipv6-mtu-")); });
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("ipv6-mtu in __org.guestlink_guest-network-get-links", () => {
  it("is the link's own /proc/sys/net/ipv6/conf/<link>/mtu, not conf/all or conf/default", async () => {
    put("proc/sys/net/ipv6/conf/all/mtu", "1400\n");
    put("proc/sys/net/ipv6/conf/default/mtu", "1450\n");
    link("eth0", 2, 1500, { mtu: "1280\n" }); // an RA lowered IPv6 on eth0 only
    link("eth1", 3, 9000, { mtu: "1500\n" });
    const links = await getLinks();
    expect(links.eth0).toMatchObject({ mtu: 1500, "ipv6-mtu": 1280 });
    expect(links.eth1).toMatchObject({ mtu: 9000, "ipv6-mtu": 1500 });
    // The same through the collector the WebSocket reporter uses.
    const collected = collectLinks(new FsRoot(root), () => ({}));
    expect(collected.map((l) => [l.name, l["ipv6-mtu"]])).toEqual([["eth0", 1280], ["eth1", 1500]]);
  });

  it("is left out when it equals the link MTU (also with disable_ipv6=1 on the link)", async () => {
    link("eth0", 2, 1500, { mtu: "1500\n" });
    link("eth1", 3, 1500, { mtu: "1500\n", disabled: true });
    const links = await getLinks();
    for (const name of ["eth0", "eth1"]) {
      expect(links[name]!.mtu).toBe(1500);
      expect(links[name]).not.toHaveProperty("ipv6-mtu");
    }
  });

  it("is left out when IPv6 is disabled on the link, though the kernel keeps the old value in the file", async () => {
    link("eth0", 2, 1500, { mtu: "1300\n", disabled: true }); // measured: the file still says 1300 after disable_ipv6=1
    link("eth1", 3, 1500, { mtu: "1300\n" });
    const links = await getLinks();
    expect(links.eth0).not.toHaveProperty("ipv6-mtu");
    expect(links.eth1).toMatchObject({ "ipv6-mtu": 1300 });
  });

  it("is left out when IPv6 is disabled at boot (no /proc/sys/net/ipv6), the rest of the link intact", async () => {
    link("eth0", 2, 1442);
    const links = await getLinks();
    expect(links.eth0).toMatchObject({ name: "eth0", mtu: 1442, operstate: "up", carrier: true, type: "other" });
    expect(links.eth0).not.toHaveProperty("ipv6-mtu");
  });

  it("is left out for a link whose IPv6 state the kernel dropped (MTU below 1280), and for the others still read", async () => {
    put("proc/sys/net/ipv6/conf/all/mtu", "1280\n");
    link("eth0", 2, 1000); // no conf/eth0/: the kernel removes it below 1280
    link("eth1", 3, 1500, { mtu: "1300\n" });
    const links = await getLinks();
    expect(links.eth0!.mtu).toBe(1000);
    expect(links.eth0).not.toHaveProperty("ipv6-mtu");
    expect(links.eth1!["ipv6-mtu"]).toBe(1300);
  });

  it("is left out when the file cannot be read as a positive integer", async () => {
    link("eth0", 2, 1500, { mtu: "" });
    link("eth1", 3, 1500, { mtu: "garbage\n" });
    link("eth2", 4, 1500, { mtu: "0\n" });
    mkdirSync(join(root, "proc/sys/net/ipv6/conf/eth3/mtu"), { recursive: true }); // unreadable as a file
    link("eth3", 5, 1500);
    const links = await getLinks();
    for (const name of ["eth0", "eth1", "eth2", "eth3"]) expect(links[name], name).not.toHaveProperty("ipv6-mtu");
  });
});
