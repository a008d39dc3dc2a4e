// A client that behaves like libvirt's qemu agent code: guest-sync with a random id, replies split on
// newlines, replies with a foreign id dropped, then guest-network-get-interfaces validated by
// `virsh domifaddr --source agent` rules. Both agents must yield the same address list.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { startAgent, RawClient, qemuGaPath } from "../../conformance/agent/harness.ts";
import type { RunningAgent } from "../../conformance/agent/harness.ts";

interface LibvirtAddress { name: string; type: "ipv4" | "ipv6"; addr: string; prefix: number }

/** libvirt's qemuAgentGetInterfaces rules: one malformed entry fails the whole call. */
function parseLikeLibvirt(reply: unknown): LibvirtAddress[] {
  const ret = (reply as { return?: unknown }).return;
  if (!Array.isArray(ret)) throw new Error("qemu agent didn't return an array of interfaces");
  const out: LibvirtAddress[] = [];
  for (const iface of ret as Record<string, unknown>[]) {
    if (typeof iface.name !== "string") throw new Error("qemu agent didn't provide 'name' field");
    const addrs = iface["ip-addresses"];
    if (addrs === undefined) continue;
    if (!Array.isArray(addrs)) throw new Error("malformed ip-addresses array");
    for (const a of addrs as Record<string, unknown>[]) {
      const type = a["ip-address-type"];
      if (type !== "ipv4" && type !== "ipv6") throw new Error(`unknown ip address type '${String(type)}'`);
      if (typeof a["ip-address"] !== "string") throw new Error("qemu agent didn't provide 'ip-address' field");
      const prefix = a.prefix;
      if (typeof prefix !== "number" || !Number.isInteger(prefix) || prefix < 0) throw new Error("malformed 'prefix' field");
      out.push({ name: iface.name, type, addr: a["ip-address"], prefix });
    }
  }
  return out;
}

class LibvirtLikeClient {
  constructor(private readonly c: RawClient) {}

  private async readLine(): Promise<string> {
    await this.c.waitFor((b) => b.includes(0x0a), 5000); // libvirt's 5 s agent timeout
    const all = this.c.take();
    const nl = all.indexOf(0x0a);
    this.c.unshift(all.subarray(nl + 1));
    return all.subarray(0, nl).toString("utf8");
  }

  async sync(): Promise<number> {
    const id = Date.now() + Math.floor(Math.random() * 1000);
    await this.c.write(`{"execute":"guest-sync", "arguments":{"id":${id}}}\n`);
    for (;;) {
      const reply = JSON.parse(await this.readLine()) as { return?: unknown };
      if (reply.return === id) return id; // anything else is a stale reply: dropped
    }
  }

  async command(execute: string): Promise<unknown> {
    await this.sync();
    await this.c.write(`{"execute":"${execute}"}\n`);
    return JSON.parse(await this.readLine());
  }
}

const agents: RunningAgent[] = [];
const clients: RawClient[] = [];

beforeAll(() => {
  qemuGaPath();
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const a of agents) await a.stop();
});

async function addressesFrom(kind: "ours" | "theirs"): Promise<LibvirtAddress[]> {
  const agent = await startAgent(kind);
  agents.push(agent);
  const raw = await RawClient.connect(agent.socket);
  clients.push(raw);
  // A stale reply in the channel (another client's) must be skipped by the sync handshake.
  await raw.write('{"execute":"guest-sync","arguments":{"id":1}}');
  const client = new LibvirtLikeClient(raw);
  return parseLikeLibvirt(await client.command("guest-network-get-interfaces"));
}

describe("libvirt-style client", () => {
  it("gets the same IP list from our agent and from qemu-ga", async () => {
    const ours = await addressesFrom("ours");
    const theirs = await addressesFrom("theirs");
    expect(theirs.length).toBeGreaterThan(0);
    expect(ours.some((a) => a.name === "lo" && a.addr === "127.0.0.1" && a.prefix === 8)).toBe(true);
    expect(ours).toEqual(theirs);
  });

  it("rejects a malformed entry the way libvirt does", () => {
    expect(() => parseLikeLibvirt({ return: [{ "ip-addresses": [] }] })).toThrow("didn't provide 'name'");
    expect(() => parseLikeLibvirt({ return: [{ name: "x", "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "1.2.3.4", prefix: -1 }] }] })).toThrow("prefix");
  });
});
