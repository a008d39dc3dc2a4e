// The agents' WebSocket endpoint over real loopback connections: authentication at upgrade,
// binding of a connection to its VM, full and delta reports, limits, and QGA commands sent back
// down the channel.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { AgentHub } from "../../metadata-server/hub/agent-hub.ts";
import type { GuestRecord } from "../../metadata-server/hub/store.ts";
import { agentCredential } from "../../metadata-server/state/tokens.ts";

const secret = new Uint8Array(32).fill(7);
const VM_A = "00000000-0000-4000-8000-00000000000a";
const VM_B = "00000000-0000-4000-8000-00000000000b";
const reports: GuestRecord[] = [];
let server: Server;
let hub: AgentHub;
let url: string;

beforeAll(async () => {
  hub = new AgentHub({
    secret, isKnownVm: (id) => id === VM_A || id === VM_B, onReport: (r) => { reports.push(r); },
    ratePerSecond: 5, rateBurst: 10, maxPayloadBytes: 64 * 1024,
  });
  server = createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (req, socket, head) => { if (!hub.handleUpgrade(req, socket, head)) socket.destroy(); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/agent`;
});
afterAll(async () => {
  hub.close();
  await new Promise((r) => server.close(r));
});

type Msg = Record<string, unknown> & { type: string };

/** A connected test agent that collects what the server sends. */
async function agent(vmId: string, credential = agentCredential(secret, vmId)) {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${credential}`, "x-guestlink-vm": vmId } });
  const inbox: Msg[] = [];
  const waiters: ((m: Msg) => void)[] = [];
  ws.on("message", (d) => {
    const m = JSON.parse(String(d)) as Msg;
    inbox.push(m);
    waiters.splice(0).forEach((w) => w(m));
  });
  await new Promise<void>((resolve, reject) => { ws.once("open", () => resolve()); ws.once("unexpected-response", (_q, res) => reject(new Error(`HTTP ${res.statusCode}`))); ws.once("error", reject); });
  const next = (type: string) => new Promise<Msg>((resolve) => {
    const found = inbox.find((m) => m.type === type);
    if (found) { inbox.splice(inbox.indexOf(found), 1); return resolve(found); }
    const w = (m: Msg) => { if (m.type === type) { inbox.splice(inbox.indexOf(m), 1); resolve(m); } else waiters.push(w); };
    waiters.push(w);
  });
  const send = (m: unknown) => ws.send(typeof m === "string" ? m : JSON.stringify(m));
  return { ws, next, send, inbox };
}

const eth0 = { name: "eth0", mac: "52:54:00:00:00:0a", operstate: "up", carrier: true, mtu: 1442, addresses: ["192.0.2.10/24"] };

describe("agent hub", () => {
  it("refuses a wrong credential, another VM's credential and an unknown VM with 401", async () => {
    await expect(agent(VM_A, "not-the-credential")).rejects.toThrow(/HTTP 401/);
    await expect(agent(VM_A, agentCredential(secret, VM_B))).rejects.toThrow(/HTTP 401/);
    await expect(agent("00000000-0000-4000-8000-0000000000ff")).rejects.toThrow(/HTTP 401/);
  });

  it("takes a full report and then deltas, and acknowledges each", async () => {
    const a = await agent(VM_A);
    expect((await a.next("welcome")).vmId).toBe(VM_A);
    a.send({ type: "hello", vmId: VM_A, agent: { name: "guestlink-agent", version: "test" } });
    a.send({ type: "report", seq: 0, full: true, at: "2026-11-24T00:00:00Z", interfaces: [eth0, { ...eth0, name: "eth1", mac: "52:54:00:00:00:1a", addresses: [] }] });
    expect(await a.next("ack")).toEqual({ type: "ack", seq: 0 });
    a.send({ type: "report", seq: 1, full: false, at: "2026-11-24T00:00:05Z", interfaces: [{ ...eth0, operstate: "down", carrier: false }], removed: ["eth1"] });
    expect(await a.next("ack")).toEqual({ type: "ack", seq: 1 });
    const last = reports.filter((r) => r.vmId === VM_A).at(-1)!;
    expect(last.observed.interfaces).toEqual([{ name: "eth0", mac: "52:54:00:00:00:0a", mtu: 1442, operstate: "down", carrier: false, addresses: ["192.0.2.10/24"] }]);
    expect(last.observed.source).toBe("agent");
    a.ws.close();
  });

  it("never lets a connection report for another VM, and keeps it up after bad messages", async () => {
    const a = await agent(VM_A);
    await a.next("welcome");
    a.send({ type: "hello", vmId: VM_B, agent: { name: "x", version: "1" } });
    expect(await a.next("error")).toMatchObject({ code: "WRONG_VM" });
    a.send({ type: "report", seq: 0, full: true, at: "t", interfaces: [] });
    expect(await a.next("error")).toMatchObject({ code: "NOT_HELLO" });
    a.send("{not json");
    expect(await a.next("error")).toMatchObject({ code: "BAD_MESSAGE", message: "not JSON" });
    a.send({ type: "report", seq: 0, full: true, at: "t", interfaces: [{ ...eth0, mtu: "big" }] });
    expect(await a.next("error")).toMatchObject({ code: "BAD_MESSAGE" });
    a.send({ type: "hello", vmId: VM_A, agent: { name: "x", version: "1" } });
    a.send({ type: "report", seq: 0, full: true, at: "t", interfaces: [eth0] });
    expect(await a.next("ack")).toEqual({ type: "ack", seq: 0 });
    expect(reports.some((r) => r.vmId === VM_B)).toBe(false);
    a.ws.close();
  });

  it("limits message size and rate", async () => {
    const a = await agent(VM_B);
    await a.next("welcome");
    for (let i = 0; i < 14; i++) a.send({ type: "heartbeat", at: "t" });
    expect(await a.next("error")).toMatchObject({ code: "RATE_LIMITED" });
    const closed = new Promise<number>((r) => a.ws.once("close", (code) => r(code)));
    a.send("x".repeat(70 * 1024));
    expect(await closed).toBe(1009); // "message too big"
  });

  it("sends a QGA command down the channel and returns the agent's own answer", async () => {
    const a = await agent(VM_A);
    await a.next("welcome");
    const answer = hub.request(VM_A, { execute: "guest-ping" });
    const req = await a.next("qga-request");
    expect(req.request).toEqual({ execute: "guest-ping" });
    a.send({ type: "qga-response", id: req.id, response: { return: {} } });
    expect(await answer).toEqual({ return: {} });
    a.ws.close();
    await expect(hub.request(VM_B, { execute: "guest-ping" })).rejects.toThrow(/not connected/);
  });
});
