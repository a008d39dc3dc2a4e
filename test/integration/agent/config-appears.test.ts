// First boot as it really happens: udev starts the agent when the virtio port appears, long before
// cloud-init writes the reporting config. The agent bundle starts with its config path inside two
// directories that do not exist yet, answers as qemu-ga meanwhile (SIGHUP does not end it), logs a
// config that is written broken, and starts reporting to a real agent hub as soon as the corrected
// file is there, without a restart.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReportedInterface } from "../../../agent/protocol/ws-messages.ts";
import { AgentHub } from "../../../metadata-server/hub/agent-hub.ts";
import type { GuestRecord } from "../../../metadata-server/hub/store.ts";
import { agentCredential } from "../../../metadata-server/state/tokens.ts";
import { RawClient } from "../../conformance/agent/harness.ts";
import { tempDir } from "../../helpers/peers.ts";
import { start, stopAll, waitFor, type Started } from "../../helpers/processes.ts";

const VM = "00000000-0000-4000-8000-0000000000f1";
const MAC = "52:54:00:aa:00:f1";
const WAIT_MS = 15_000;
const secret = new Uint8Array(32).fill(5);
const work = tempDir("config-appears");
const root = join(work.path, "guest-root");
const etc = join(work.path, "etc");
const configPath = join(etc, "guestlink", "agent.json");
const socket = join(work.path, "qga.sock");
const records: GuestRecord[] = [];
let hub: AgentHub | undefined;
let server: Server | undefined;
let serverUrl = "";
let agent: Started;
let client: RawClient | undefined;

/** The guest as the agent's collectors see it: one NIC, and the SMBIOS UUID that names the VM. */
function guestRoot(): void {
  const net = join(root, "sys/class/net/glfix0");
  mkdirSync(net, { recursive: true });
  mkdirSync(join(root, "proc/net"), { recursive: true });
  mkdirSync(join(root, "sys/class/dmi/id"), { recursive: true });
  writeFileSync(join(net, "address"), `${MAC}\n`);
  writeFileSync(join(net, "operstate"), "up\n");
  writeFileSync(join(net, "carrier"), "1\n");
  writeFileSync(join(net, "mtu"), "1500\n");
  writeFileSync(join(net, "ifindex"), "2\n");
  writeFileSync(join(root, "proc/net/if_inet6"), "20010db8007000000000000000000010 02 40 00 80 glfix0\n");
  writeFileSync(join(root, "sys/class/dmi/id/product_uuid"), `${VM.toUpperCase()}\n`);
}

async function ping(): Promise<void> {
  client!.take();
  await client!.write('{"execute":"guest-ping"}');
  await client!.waitFor((b) => b.toString("latin1") === '{"return": {}}\n', WAIT_MS);
  client!.take();
}

beforeAll(async () => {
  guestRoot();
  hub = new AgentHub({ secret, isKnownVm: (id) => id === VM, onReport: (r) => { records.push(r); } });
  const srv = createServer((_req, res) => res.writeHead(404).end());
  server = srv;
  srv.on("upgrade", (req, sock, head) => { if (!hub!.handleUpgrade(req, sock, head)) sock.destroy(); });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  serverUrl = `ws://127.0.0.1:${(srv.address() as AddressInfo).port}/v1/agent`;
  agent = start(process.execPath, ["bin/guestlink-agent", "-m", "unix-listen", "-p", socket, "-t", join(work.path, "state"), "-f", join(work.path, "agent.pid")], {
    env: { ...process.env, GUESTLINK_AGENT_ROOT: root, GUESTLINK_AGENT_CONFIG: configPath },
  });
  client = await waitFor("the agent's socket", async () => {
    if (agent.child.exitCode !== null) throw new Error(`agent exited early: ${agent.output()}`);
    return await RawClient.connect(socket).catch(() => undefined);
  }, WAIT_MS, 50);
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await stopAll();
  hub?.close();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  work.remove();
});

describe("the reporting config appears after the agent started", () => {
  it("serves QGA without a config, and SIGHUP does not end it", async () => {
    await ping();
    agent.child.kill("SIGHUP");
    await ping();
    expect(agent.child.exitCode).toBeNull();
    expect(agent.child.signalCode).toBeNull();
    expect(hub!.connectedCount).toBe(0);
  });

  it("logs a broken config and keeps waiting, then reports once the corrected file is written", async () => {
    mkdirSync(etc);
    mkdirSync(join(etc, "guestlink"));
    writeFileSync(configPath, JSON.stringify({ server: serverUrl.replace(/^ws:/, "http:"), credential: agentCredential(secret, VM) }));
    await waitFor("the broken config to be logged", () => (/reporting not started: waiting for .*agent\.json to change/.test(agent.output()) ? true : undefined), WAIT_MS, 50);
    expect(agent.output()).toMatch(/reporting config ignored: server must be a ws:\/\/ or wss:\/\/ URL/);
    expect(hub!.connectedCount).toBe(0);

    writeFileSync(configPath, JSON.stringify({ server: serverUrl, credential: agentCredential(secret, VM), pollSeconds: 1 }));
    const first = await waitFor("the agent's first report", () => records[0], WAIT_MS, 50);
    // A report is only taken after a hello naming this VM, on a connection made with its credential.
    expect(first.vmId).toBe(VM);
    expect(first.raw.report).toMatchObject({ full: true, seq: 0 });
    const ifaces = (first.raw.report as { interfaces: ReportedInterface[] }).interfaces;
    expect(ifaces).toEqual([{ name: "glfix0", mac: MAC, operstate: "up", carrier: true, mtu: 1500, addresses: ["2001:db8:70::10/64"] }]);
    expect(hub!.isConnected(VM)).toBe(true);
    expect(agent.output()).toContain(`reporting started from ${configPath}`);
    // Still the same process, still answering QGA.
    expect(agent.child.exitCode).toBeNull();
    await ping();
  });
});
