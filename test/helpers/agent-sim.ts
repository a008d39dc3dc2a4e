// A guest's side of the agent WebSocket, for tests that play a hostile or a crashing guest
// against the real `guestlink serve`: the credential comes from the server's own state directory,
// as the VM's vendor-data would carry it; every ack and error the server sends is kept.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { agentCredential } from "../../metadata-server/state/tokens.ts";

export interface SimAgent {
  ws: WebSocket;
  /** Highest seq the server acknowledged on this connection (-1: none). */
  acked: number;
  errors: { code: string; message: string }[];
  send(message: Record<string, unknown>): void;
  close(): void;
  closed: Promise<void>;
}

export function serverSecret(stateDir: string): Buffer {
  return readFileSync(join(stateDir, "server-secret"));
}

/** Connects as the agent of `vmId` and says hello; resolves once the server welcomed it. */
export function connectAgent(base: string, stateDir: string, vmId: string): Promise<SimAgent> {
  const url = `${base.replace(/^http/, "ws").replace(/\/$/, "")}/v1/agent`;
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${agentCredential(serverSecret(stateDir), vmId)}`, "x-guestlink-vm": vmId }, perMessageDeflate: false,
  });
  let closedResolve: () => void;
  const agent: SimAgent = {
    ws, acked: -1, errors: [],
    send: (m) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m)); },
    close: () => ws.terminate(),
    closed: new Promise((r) => (closedResolve = r)),
  };
  ws.on("close", () => closedResolve());
  ws.on("error", () => closedResolve());
  return new Promise((resolve, reject) => {
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { type: string; seq?: number; code?: string; message?: string };
      if (m.type === "welcome") resolve(agent);
      else if (m.type === "ack") agent.acked = Math.max(agent.acked, m.seq!);
      else if (m.type === "error") agent.errors.push({ code: m.code!, message: m.message! });
    });
    ws.once("open", () => ws.send(JSON.stringify({ type: "hello", vmId, agent: { name: "test", version: "1" } })));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`agent upgrade refused: ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

/** One interface as the agent reports it. */
export function reportedInterface(name: string, mac: string, mtu = 1500, addresses: string[] = []) {
  return { name, mac, operstate: "up", carrier: true, mtu, addresses };
}

/** Resident set size of a process, in bytes (Linux). */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}
