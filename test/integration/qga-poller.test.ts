// The host-side QGA poller against the real qemu-ga 7.2 and against our agent, each running in a
// network namespace this test builds (so the interfaces, MACs, addresses and MTUs are known), plus
// an agent that answers garbage first and one that never answers at all.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QgaClient } from "../../metadata-server/qga/client.ts";
import { QgaPoller, type PollResult } from "../../metadata-server/qga/poller.ts";
import { delimited, fileReadAnswer, scriptedAgent } from "../helpers/fake-qga.ts";
import { requirePeer, run, tempDir } from "../helpers/peers.ts";

const work = tempDir("qga-poller");
const ns = `glqga${process.pid}`;
const children: ChildProcess[] = [];
const servers: Server[] = [];
const MAC = "02:00:00:00:0a:01";

function ip(...args: string[]) {
  const r = run("ip", ["-n", ns, ...args]);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
}

async function waitForSocket(path: string) {
  for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(path)) throw new Error(`${path} never appeared`);
}

function startInNamespace(program: string, args: string[]): ChildProcess {
  const child = spawn("ip", ["netns", "exec", ns, program, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  return child;
}

beforeAll(async () => {
  requirePeer("qemu-ga");
  if (run("ip", ["netns", "add", ns]).status !== 0) throw new Error(`cannot create network namespace ${ns}`);
  ip("link", "add", "eth0", "address", MAC, "type", "veth", "peer", "name", "eth0-peer");
  ip("link", "set", "eth0", "mtu", "1442");
  ip("addr", "add", "192.0.2.10/24", "dev", "eth0");
  ip("link", "set", "eth0", "up");
  ip("link", "set", "eth0-peer", "up");
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  for (const s of servers) s.close();
  spawnSync("ip", ["netns", "del", ns]);
  work.remove();
});

function pollOnce(targets: { vmId: string; socketPath: string }[], timeoutMs = 1500): Promise<PollResult[]> {
  return new Promise((resolve) => {
    const results: PollResult[] = [];
    const poller = new QgaPoller({
      intervalMs: 60_000, bootIntervalMs: 60_000, commandTimeoutMs: timeoutMs,
      onResult: (r) => {
        results.push(r);
        if (results.length === targets.length) { poller.stop(); resolve(results); }
      },
    });
    poller.setTargets(targets);
  });
}

describe("QGA poller", () => {
  it("reads the real qemu-ga's interfaces (no MTU: qemu-ga has none, and our extension is unknown to it)", async () => {
    const sock = join(work.path, "qemu-ga.sock");
    startInNamespace(requirePeer("qemu-ga"), ["-m", "unix-listen", "-p", sock, "-t", work.path]);
    await waitForSocket(sock);
    const [r] = await pollOnce([{ vmId: "vm-qemu-ga", socketPath: sock }]);
    expect(r!.error).toBeUndefined();
    const eth0 = r!.observed!.interfaces.find((i) => i.mac === MAC)!;
    expect(eth0.name).toBe("eth0");
    expect(eth0.addresses).toContain("192.0.2.10/24");
    expect(eth0.mtu).toBeUndefined();
    expect(Object.keys(r!.raw)).toEqual(["guest-network-get-interfaces"]);
    // No cloud-init ran on this machine: guest-file-open fails, which reads as "not finished".
    expect(r!.observed!.cloudInit).toEqual({ done: false, errors: [] });
  });

  it("reads our agent's interfaces with MTU and link state through its extension", async () => {
    const sock = join(work.path, "ours.sock");
    startInNamespace(process.execPath, ["bin/guestlink-agent", "-m", "unix-listen", "-p", sock, "-t", join(work.path, "agent-state")]);
    await waitForSocket(sock);
    const [r] = await pollOnce([{ vmId: "vm-ours", socketPath: sock }]);
    expect(r!.error).toBeUndefined();
    const eth0 = r!.observed!.interfaces.find((i) => i.mac === MAC)!;
    expect(eth0).toMatchObject({ name: "eth0", mtu: 1442 });
    expect(eth0.addresses).toContain("192.0.2.10/24");
    expect(Object.keys(r!.raw).sort()).toEqual(["__org.guestlink_guest-network-get-links", "guest-network-get-interfaces"]);
  });

  it("resynchronises past garbage and a stray reply, and one hung agent never delays another", async () => {
    const garbageSock = join(work.path, "garbage.sock");
    const hungSock = join(work.path, "hung.sock");
    // A confused agent: noise, a half line and a stale reply before it answers the delimited sync.
    const result = JSON.stringify({ v1: { datasource: "DataSourceNoCloud [seed=/dev/sr0][dsmode=net]", errors: ["('scripts_user', RuntimeError('Runparts: 1 failures'))"] } });
    servers.push(scriptedAgent(garbageSock, (id) => Buffer.concat([Buffer.from('garbage {"return": 41}\n{"error": {"class": "GenericError", "desc": "stray"}}\n{"ret', "latin1"), delimited(id)]), {
      "guest-network-get-interfaces": `{"return": [{"name": "eth9", "hardware-address": "02:00:00:00:0a:09", "ip-addresses": [{"ip-address": "198.51.100.9", "ip-address-type": "ipv4", "prefix": 24}]}]}\n`,
      "__org.guestlink": `{"error": {"class": "CommandNotFound", "desc": "The command __org.guestlink_guest-network-get-links has not been found"}}\n`,
      "guest-file-open": `{"return": 1000}\n`,
      "guest-file-read": fileReadAnswer(result),
      "guest-file-close": `{"return": {}}\n`,
    }));
    servers.push(createServer(() => { /* accepts, never answers */ }).listen(hungSock));
    await waitForSocket(garbageSock);
    await waitForSocket(hungSock);

    const order: string[] = [];
    const results = await new Promise<PollResult[]>((resolve) => {
      const got: PollResult[] = [];
      const poller = new QgaPoller({
        intervalMs: 60_000, bootIntervalMs: 60_000, commandTimeoutMs: 800,
        onResult: (r) => { order.push(r.vmId); got.push(r); if (got.length === 2) { poller.stop(); resolve(got); } },
      });
      poller.setTargets([{ vmId: "hung", socketPath: hungSock }, { vmId: "confused", socketPath: garbageSock }]);
    });
    const confused = results.find((r) => r.vmId === "confused")!;
    const hung = results.find((r) => r.vmId === "hung")!;
    expect(confused.error).toBeUndefined();
    expect(confused.observed!.interfaces).toEqual([{ name: "eth9", mac: "02:00:00:00:0a:09", addresses: ["198.51.100.9/24"] }]);
    // cloud-init's result.json, read through guest-file-*, with its error kept word for word.
    expect(confused.observed!.cloudInit).toEqual({
      done: true, datasource: "DataSourceNoCloud [seed=/dev/sr0][dsmode=net]", errors: ["('scripts_user', RuntimeError('Runparts: 1 failures'))"],
    });
    expect(hung.error).toMatch(/no answer within 800 ms/);
    // The hung agent was polled first, yet the confused one's answer arrived before the timeout.
    expect(order).toEqual(["confused", "hung"]);
  });

  it("skips the stale sync answers an agent gives for syncs queued while nobody read the port", async () => {
    const sock = join(work.path, "backlog.sock");
    // What a virtio port delivers when an agent starts after a host polled a booting guest for a
    // while: every queued guest-sync-delimited is answered, oldest first, before ours.
    servers.push(scriptedAgent(sock, (id) => Buffer.concat([...[111, 222, 333].map(delimited), delimited(id)]), { "guest-ping": `{"return": {}}\n` }));
    await waitForSocket(sock);
    const client = new QgaClient({ path: sock, commandTimeoutMs: 2000 });
    try {
      expect(await client.call("guest-ping")).toEqual({});
    } finally {
      client.close();
    }
  });

  it("reconnects and resynchronises after a timeout on the same client", async () => {
    const sock = join(work.path, "qemu-ga.sock");
    const client = new QgaClient({ path: sock, commandTimeoutMs: 2000 });
    try {
      expect(await client.call("guest-ping")).toEqual({});
      client.close();
      expect(await client.call("guest-ping")).toEqual({});
    } finally {
      client.close();
    }
  });
});
