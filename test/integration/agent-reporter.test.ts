// The agent's reporter against the server's hub over real loopback WebSockets: a full report on
// connect, deltas after, coalesced changes and a fresh full report after the server restarts, and
// QGA commands answered through the channel.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ReportedInterface } from "../../agent/protocol/ws-messages.ts";
import { Reporter } from "../../agent/report/reporter.ts";
import { AgentHub } from "../../metadata-server/hub/agent-hub.ts";
import type { GuestRecord } from "../../metadata-server/hub/store.ts";
import { agentCredential } from "../../metadata-server/state/tokens.ts";

const secret = new Uint8Array(32).fill(9);
const VM = "00000000-0000-4000-8000-0000000000c1";
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function startServer(port = 0) {
  const records: GuestRecord[] = [];
  const hub = new AgentHub({ secret, isKnownVm: (id) => id === VM, onReport: (r) => { records.push(r); } });
  const server: Server = createServer();
  server.on("upgrade", (req, socket, head) => { if (!hub.handleUpgrade(req, socket, head)) socket.destroy(); });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const stop = async () => { hub.close(); server.closeAllConnections(); await new Promise((r) => server.close(r)); };
  return { records, hub, port: (server.address() as AddressInfo).port, stop };
}

const until = async (cond: () => boolean, what: string, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("agent reporter", () => {
  it("reports fully, then only changes; survives a server restart with one coalesced full report", async () => {
    let srv = await startServer();
    const port = srv.port;
    let links: ReportedInterface[] = [{ name: "eth0", mac: "52:54:00:00:00:c1", operstate: "up", carrier: true, mtu: 1500, addresses: ["192.0.2.5/24"] }];
    const reporter = new Reporter({
      url: `ws://127.0.0.1:${port}/v1/agent`, credential: agentCredential(secret, VM), vmId: VM,
      collect: async () => links, qga: async (req) => ({ return: { echoed: req.execute } }),
      pollMs: 50, backoffMinMs: 50, backoffMaxMs: 200,
    });
    cleanups.push(() => reporter.stop());
    reporter.start();
    await until(() => srv.records.length >= 1, "the first report");
    expect(srv.records[0]!.raw.report).toMatchObject({ full: true, seq: 0 });

    links = [{ ...links[0]!, operstate: "down", carrier: false }];
    await until(() => srv.records.some((r) => (r.raw.report as { full: boolean }).full === false), "a delta");
    const delta = srv.records.find((r) => (r.raw.report as { full: boolean }).full === false)!;
    expect((delta.raw.report as { interfaces: ReportedInterface[] }).interfaces).toEqual([links[0]]);
    expect(delta.observed.interfaces[0]!.operstate).toBe("down");

    // The server goes away; meanwhile the guest gains an address and a NIC.
    await srv.stop();
    links = [{ ...links[0]!, addresses: ["192.0.2.5/24", "192.0.2.6/24"] }, { name: "eth1", mac: "52:54:00:00:00:c2", operstate: "up", mtu: 9000, addresses: [] }];
    await new Promise((r) => setTimeout(r, 200));
    srv = await startServer(port);
    cleanups.push(() => srv.stop());
    await until(() => srv.records.length >= 1, "a report after the restart");
    const after = srv.records[0]!;
    expect(after.raw.report).toMatchObject({ full: true });
    expect(after.observed.interfaces.map((i) => [i.name, i.mtu, i.addresses.length])).toEqual([["eth0", 1500, 2], ["eth1", 9000, 0]]);

    // The server can run QGA commands through the same channel.
    await until(() => srv.hub.isConnected(VM), "the agent to be connected");
    expect(await srv.hub.request(VM, { execute: "guest-ping" })).toEqual({ return: { echoed: "guest-ping" } });
  });

  it("keeps retrying with backoff when its credential is refused, and never reports", async () => {
    const srv = await startServer();
    cleanups.push(() => srv.stop());
    const events: string[] = [];
    const reporter = new Reporter({
      url: `ws://127.0.0.1:${srv.port}/v1/agent`, credential: "wrong", vmId: VM,
      collect: async () => [], qga: async () => ({}), pollMs: 50, backoffMinMs: 20, backoffMaxMs: 40,
      log: (e) => events.push(e),
    });
    cleanups.push(() => reporter.stop());
    reporter.start();
    await until(() => events.filter((e) => e === "refused").length >= 2, "two refusals");
    expect(srv.records).toEqual([]);
  });
});
