// The agent bundle must run on Debian 12's Node 18. scripts/fetch-node18.sh unpacks that node (without
// installing it); our bundle then serves guest-sync, guest-info and guest-network-get-interfaces under it.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { startAgent, RawClient, REPO, lines } from "../../conformance/agent/harness.ts";
import type { RunningAgent } from "../../conformance/agent/harness.ts";

let node18 = "";
let agent: RunningAgent | undefined;
let client: RawClient | undefined;

beforeAll(async () => {
  const r = spawnSync("bash", [join(REPO, "scripts/fetch-node18.sh")], { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`scripts/fetch-node18.sh failed: ${r.stderr}`);
  node18 = r.stdout.trim().split("\n").pop()!;
  agent = await startAgent("ours", { node: node18 });
  client = await RawClient.connect(agent.socket);
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await agent?.stop();
});

async function ask(req: string): Promise<string> {
  await client!.write(req);
  await client!.waitFor((b) => b.includes(0x0a));
  return lines(client!.take())[0]!;
}

describe("bundle on Debian 12's Node 18", () => {
  it("is really node 18", () => {
    const v = spawnSync(node18, ["--version"], { encoding: "utf8" });
    expect(v.stdout.trim()).toMatch(/^v18\./);
  });

  it("answers guest-sync", async () => {
    expect(await ask('{"execute":"guest-sync","arguments":{"id":18}}')).toBe('{"return": 18}');
  });

  it("answers guest-info", async () => {
    const r = JSON.parse(await ask('{"execute":"guest-info"}')) as { return: { version: string; supported_commands: unknown[] } };
    expect(r.return.version).toBe("7.2.0");
    expect(r.return.supported_commands.length).toBe(45);
  });

  it("answers guest-network-get-interfaces", async () => {
    const r = JSON.parse(await ask('{"execute":"guest-network-get-interfaces"}')) as { return: { name: string; "ip-addresses"?: { "ip-address": string }[] }[] };
    const lo = r.return.find((i) => i.name === "lo");
    expect(lo?.["ip-addresses"]?.map((a) => a["ip-address"])).toContain("127.0.0.1");
  });
});
