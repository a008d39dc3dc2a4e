// A host that sends and does not read: our agent must stop reading instead of buffering without bound
// (qemu-ga spins in this situation), and every reply must still arrive, in order, once the host reads.
import { describe, it, expect, afterAll } from "vitest";
import { startAgent, RawClient } from "../../conformance/agent/harness.ts";
import type { RunningAgent } from "../../conformance/agent/harness.ts";

let agent: RunningAgent | undefined;
let client: RawClient | undefined;

afterAll(async () => {
  await client?.close().catch(() => {});
  await agent?.stop();
});

describe("backpressure", () => {
  it("stops reading while replies are not drained, then delivers them all in order", async () => {
    agent = await startAgent("ours");
    client = await RawClient.connect(agent.socket);
    client.sock.pause(); // the host does not read
    const requests = 20000;
    // guest-info replies are ~5 KB: 20000 of them are ~100 MB, far more than socket buffers hold.
    const batch = Buffer.from('{"execute":"guest-info"}'.repeat(requests));
    client.sock.write(batch);
    let previous = -1;
    // Wait until the agent stops taking our bytes: the amount the kernel accepted stops growing.
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const pending = client.sock.writableLength;
      if (pending === previous && pending > 0) break;
      previous = pending;
    }
    expect(client.sock.writableLength, "part of the requests still waits on the host side").toBeGreaterThan(0);
    // The agent's memory stays bounded because it stopped reading; now drain everything.
    let lines = 0;
    let lastBadLine = "";
    let rest = "";
    client.sock.removeAllListeners("data");
    client.sock.on("data", (b: Buffer) => {
      const text = rest + b.toString("latin1");
      const parts = text.split("\n");
      rest = parts.pop()!;
      for (const p of parts) {
        if (!p.startsWith('{"return": {"version": "7.2.0"')) lastBadLine = p;
        lines++;
      }
    });
    client.sock.resume();
    for (let i = 0; i < 600 && lines < requests; i++) await new Promise((r) => setTimeout(r, 100));
    expect(lastBadLine).toBe("");
    expect(lines).toBe(requests);
  });
});
