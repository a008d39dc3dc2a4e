// Links come and go while the agent runs (hotplug, a VLAN or bond created by cloud-init, a NIC
// renamed). On the real root the agent keeps /proc/net and /sys/class/net descriptors open between
// calls; this proves it still sees every change: the agent runs in a network namespace of its own
// where the test adds, removes and re-creates a veth, asking guest-network-get-interfaces (and our
// extension) after each step.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QgaClient } from "../../../metadata-server/qga/client.ts";
import { run, tempDir } from "../../helpers/peers.ts";

const work = tempDir("agent-link-changes");
const ns = `glchg${process.pid}`;
const sock = join(work.path, "qga.sock");
let agent: ChildProcess | undefined;
let client: QgaClient;

function ip(...args: string[]): void {
  const r = run("ip", ["-n", ns, ...args]);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
}

type Iface = { name: string; "hardware-address"?: string; "ip-addresses"?: { "ip-address": string }[] };
type Link = { name: string; "hardware-address"?: string; mtu: number; operstate: string };
const interfaces = async () => (await client.call("guest-network-get-interfaces")) as Iface[];
const links = async () => (await client.call("__org.guestlink_guest-network-get-links")) as Link[];

beforeAll(async () => {
  if (run("ip", ["netns", "add", ns]).status !== 0) throw new Error(`cannot create network namespace ${ns}`);
  ip("link", "set", "lo", "up");
  agent = spawn("ip", ["netns", "exec", ns, process.execPath, "bin/guestlink-agent", "-m", "unix-listen", "-p", sock, "-t", join(work.path, "state")], { stdio: "ignore" });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  client = new QgaClient({ path: sock, commandTimeoutMs: 3000 });
});

afterAll(() => {
  client?.close();
  if (agent?.exitCode === null) agent.kill("SIGTERM");
  spawnSync("ip", ["netns", "del", ns]);
  work.remove();
});

describe("the agent follows links that appear, change and disappear", () => {
  it("lists a veth added after its first answer, with its address, MAC and MTU", async () => {
    expect((await interfaces()).map((i) => i.name)).toEqual(["lo"]);
    ip("link", "add", "gla", "address", "02:00:00:00:0c:01", "mtu", "1442", "type", "veth", "peer", "name", "glb");
    ip("addr", "add", "192.0.2.77/24", "dev", "gla");
    ip("link", "set", "gla", "up");
    ip("link", "set", "glb", "up");
    const gla = (await interfaces()).find((i) => i.name === "gla");
    expect(gla?.["hardware-address"]).toBe("02:00:00:00:0c:01");
    expect(gla?.["ip-addresses"]?.map((a) => a["ip-address"])).toContain("192.0.2.77");
    expect((await links()).find((l) => l.name === "gla")).toMatchObject({ mtu: 1442, operstate: "up" });
  });

  it("sees an MTU change and a MAC change of the same link on the next call", async () => {
    ip("link", "set", "gla", "mtu", "1400");
    ip("link", "set", "gla", "address", "02:00:00:00:0c:02");
    expect((await links()).find((l) => l.name === "gla")).toMatchObject({ mtu: 1400, "hardware-address": "02:00:00:00:0c:02" });
    expect((await interfaces()).find((i) => i.name === "gla")?.["hardware-address"]).toBe("02:00:00:00:0c:02");
  });

  it("drops a deleted link, and reads a re-created one with the same name afresh", async () => {
    ip("link", "del", "gla");
    expect((await interfaces()).map((i) => i.name).sort()).toEqual(["lo"]);
    expect((await links()).map((l) => l.name).sort()).toEqual(["lo"]);
    ip("link", "add", "gla", "address", "02:00:00:00:0c:03", "mtu", "9000", "type", "veth", "peer", "name", "glb");
    expect((await interfaces()).find((i) => i.name === "gla")?.["hardware-address"]).toBe("02:00:00:00:0c:03");
    expect((await links()).find((l) => l.name === "gla")).toMatchObject({ mtu: 9000, "hardware-address": "02:00:00:00:0c:03" });
  });
});
