// Differential conformance: every case in cases.ts runs against our agent and the real qemu-ga 7.2
// (Debian's qemu-guest-agent), both over unix-listen sockets, and the answers must agree.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { CASES, fileCaseEnv, withoutPid } from "./cases.ts";
import type { Case } from "./cases.ts";
import { startAgent, RawClient, lines, lineShape, qemuGaPath, buildAgentBundle, FIXTURES } from "./harness.ts";
import type { RunningAgent } from "./harness.ts";

interface Side { agent: RunningAgent; client: RawClient }
type Pair = { ours: Side; theirs: Side };

const pairs = new Map<string, Pair>();
let workDir = "";
let markerSeq = 1_000_000;

const PAIR_ARGS: Record<string, string[]> = { default: [], blocked: ["-b", "guest-exec,guest-file-open"] };
/** Pairs that differ by environment: the time zone cases run under zones with abbreviations and DST. */
const PAIR_ENV: Record<string, Record<string, string>> = {
  default: { TZ: "UTC" }, blocked: { TZ: "UTC" }, berlin: { TZ: "Europe/Berlin" }, kolkata: { TZ: "Asia/Kolkata" }, stjohns: { TZ: "America/St_Johns" },
  // The helper cases: both agents look chpasswd up in PATH.
  "no-chpasswd": { TZ: "UTC", PATH: "/nonexistent" },
  "killed-chpasswd": { TZ: "UTC", PATH: join(FIXTURES, "helpers-killed") },
  // The suspend cases: a systemctl that suspends nothing (see the fixture).
  "fake-systemctl": { TZ: "UTC", PATH: join(FIXTURES, "helpers-suspend") },
};

async function startSide(kind: "ours" | "theirs", args: string[], env: Record<string, string>): Promise<Side> {
  const agent = await startAgent(kind, { extraArgs: args, env: { QGA_OS_RELEASE: join(FIXTURES, "os-release"), ...env } });
  return { agent, client: await RawClient.connect(agent.socket) };
}

beforeAll(async () => {
  qemuGaPath(); // fail loudly when the peer is missing
  await buildAgentBundle();
  workDir = mkdtempSync(join(tmpdir(), "guestlink-diff-"));
  for (const [name, env] of Object.entries(PAIR_ENV)) {
    const args = PAIR_ARGS[name] ?? [];
    pairs.set(name, { ours: await startSide("ours", args, env), theirs: await startSide("theirs", args, env) });
  }
});

afterAll(async () => {
  for (const p of pairs.values()) {
    for (const s of [p.ours, p.theirs]) {
      await s.client.close().catch(() => {});
      await s.agent.stop();
    }
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function runCase(side: Side, c: Case): Promise<string[]> {
  const client = side.client;
  await client.resync(markerSeq++);
  fileCaseEnv.path = join(workDir, `${side.agent.kind}-file.txt`);
  const got: string[] = [];
  for (const step of c.steps) {
    for (let attempt = 0; ; attempt++) {
      const data = typeof step.send === "function" ? step.send(got) : step.send;
      const buf = typeof data === "string" ? Buffer.from(data, "latin1") : data;
      if (step.bytewise) for (const b of buf) await client.write(Buffer.from([b]));
      else await client.write(buf);
      if (step.silent) {
        await new Promise((r) => setTimeout(r, 150));
        expect(client.take().toString("latin1"), `${side.agent.kind}: nothing may arrive for a partial request`).toBe("");
        break;
      }
      const out = lines(await client.drainUntilMarker(markerSeq++));
      if (step.untilExited && out.length === 1 && out[0]!.includes('"exited": false') && attempt < 400) {
        await new Promise((r) => setTimeout(r, 25));
        continue;
      }
      got.push(...out);
      break;
    }
  }
  return got;
}

describe("differential: our agent vs qemu-ga 7.2", () => {
  it("has at least 80 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(80);
  });

  for (const c of CASES) {
    const label = typeof c.compare === "object" ? `${c.name} [known difference]` : `${c.name} [${c.compare}]`;
    it(label, async () => {
      const pair = pairs.get(c.pair ?? "default")!;
      const ours = await runCase(pair.ours, c);
      const theirs = await runCase(pair.theirs, c);
      expect(theirs.length, "qemu-ga answered").toBeGreaterThan(0);
      if (c.compare === "exact") {
        expect(withoutPid(ours)).toEqual(withoutPid(theirs));
      } else if (c.compare === "shape") {
        expect(ours.map(lineShape)).toEqual(theirs.map(lineShape));
      } else {
        expect(c.compare.reason.length).toBeGreaterThan(10);
        c.compare.ours(ours);
        c.compare.theirs(theirs);
      }
    });
  }
});

describe("differential: command line", () => {
  const bundle = (): Promise<string> => buildAgentBundle();

  it("-D dumps the same keyfile", async () => {
    const args = ["-D", "-b", "guest-exec,guest-file-open", "-m", "unix-listen", "-p", "/run/x.sock", "-t", "/run/state", "-l", "/run/log", "-v", "-r"];
    const theirs = spawnSync(qemuGaPath(), args, { encoding: "utf8", env: { ...process.env, QGA_CONF: "/nonexistent" } });
    const ours = spawnSync(process.execPath, [await bundle(), ...args], { encoding: "utf8", env: { ...process.env, QGA_CONF: "/nonexistent" } });
    expect(theirs.status).toBe(0);
    expect(ours.status).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
  });

  it("-D with defaults", async () => {
    const env = { ...process.env, QGA_CONF: "/nonexistent" };
    const theirs = spawnSync(qemuGaPath(), ["-D"], { encoding: "utf8", env });
    const ours = spawnSync(process.execPath, [await bundle(), "-D"], { encoding: "utf8", env });
    expect(ours.stdout).toBe(theirs.stdout);
  });

  it("reads the keyfile named by QGA_CONF like qemu-ga", async () => {
    const dir = mkdtempSync(join(tmpdir(), "guestlink-conf-"));
    try {
      const conf = join(dir, "qemu-ga.conf");
      spawnSync("sh", ["-c", `printf '[general]\\nmethod=unix-listen\\npath=${dir}/s\\nblock-rpcs=guest-ping,guest-info\\nverbose=true\\n' > ${conf}`]);
      const env = { ...process.env, QGA_CONF: conf };
      const theirs = spawnSync(qemuGaPath(), ["-D"], { encoding: "utf8", env });
      const ours = spawnSync(process.execPath, [await bundle(), "-D"], { encoding: "utf8", env });
      expect(theirs.stdout).toContain("block-rpcs=guest-info,guest-ping");
      expect(ours.stdout).toBe(theirs.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("-b help lists qemu-ga's commands in the same order, ours then adds three (known difference)", async () => {
    const theirs = spawnSync(qemuGaPath(), ["-b", "help"], { encoding: "utf8" }).stdout.trim().split("\n");
    const ours = spawnSync(process.execPath, [await bundle(), "-b", "help"], { encoding: "utf8" }).stdout.trim().split("\n");
    expect(ours.slice(0, theirs.length)).toEqual(theirs);
    expect(ours.slice(theirs.length)).toEqual(["guest-network-get-route", "guest-get-load", "__org.guestlink_guest-network-get-links"]);
  });

  it("-a/--allow-rpcs is ours only (qemu-ga 8.0's flag): qemu-ga 7.2 refuses it, ours enables just those (known difference)", async () => {
    const theirs = spawnSync(qemuGaPath(), ["-a", "guest-ping", "-m", "unix-listen", "-p", "/nonexistent/x.sock"], { encoding: "utf8" });
    expect(theirs.status).toBe(1);
    expect(theirs.stderr).toContain("invalid option -- 'a'");
    const agent = await startAgent("ours", { extraArgs: ["-a", "guest-ping,guest-info"] });
    const client = await RawClient.connect(agent.socket);
    try {
      await client.write('{"execute":"guest-ping"}{"execute":"guest-sync","arguments":{"id":1}}');
      await client.waitFor((b) => b.toString().split("\n").length > 2);
      expect(lines(client.take())).toEqual([
        '{"return": {}}',
        '{"error": {"class": "CommandNotFound", "desc": "Command guest-sync has been disabled"}}',
      ]);
    } finally {
      await client.close();
      await agent.stop();
    }
  });

  it("a missing virtio-serial device fails the same way", async () => {
    const args = ["-m", "virtio-serial", "-p", "/nonexistent/no-such-device", "-t", "/tmp"];
    const theirs = spawnSync(qemuGaPath(), args, { encoding: "utf8" });
    const ours = spawnSync(process.execPath, [await bundle(), ...args], { encoding: "utf8" });
    expect(ours.status).toBe(theirs.status);
    const strip = (s: string): string[] => s.trim().split("\n").map((l) => l.replace(/^[\d.]+: /, ""));
    expect(strip(ours.stderr)).toEqual(strip(theirs.stderr));
  });

  it("an unknown method fails the same way", async () => {
    const args = ["-m", "bogus-method", "-p", "/tmp/x.sock", "-t", "/tmp"];
    const theirs = spawnSync(qemuGaPath(), args, { encoding: "utf8" });
    const ours = spawnSync(process.execPath, [await bundle(), ...args], { encoding: "utf8" });
    expect(ours.status).toBe(theirs.status);
    const strip = (s: string): string[] => s.trim().split("\n").map((l) => l.replace(/^[\d.]+: /, ""));
    expect(strip(ours.stderr)).toEqual(strip(theirs.stderr));
  });
});

describe("differential: unix-listen connection semantics", () => {
  for (const kind of ["ours", "theirs"] as const) {
    it(`${kind}: a second client waits for the first; parser state survives a reconnect; unread replies are dropped`, async () => {
      const agent = await startAgent(kind);
      const opened: RawClient[] = [];
      try {
        const a = await RawClient.connect(agent.socket);
        opened.push(a);
        await a.write('{"execute": "guest-sync", "arguments": {"id": 1}}');
        await a.waitFor((b) => b.toString().includes('{"return": 1}\n'));
        const b = await RawClient.connect(agent.socket);
        opened.push(b);
        await b.write('{"execute": "guest-sync", "arguments": {"id": 2}}');
        await new Promise((r) => setTimeout(r, 300));
        expect(b.take().length, "B is not served while A is connected").toBe(0);
        await a.close();
        await b.waitFor((buf) => buf.toString().includes('{"return": 2}\n'));
        expect(b.take().toString()).toBe('{"return": 2}\n');
        // B leaves half a request behind; the next client's bytes complete it.
        await b.write('{"execute": "guest-sync", "arguments": {"id": ');
        await new Promise((r) => setTimeout(r, 100));
        await b.close();
        const b2 = await RawClient.connect(agent.socket);
        opened.push(b2);
        await b2.write("3}}");
        await b2.waitFor((buf) => buf.toString().includes("\n"));
        expect(b2.take().toString()).toBe('{"return": 3}\n');
        await b2.close();
        // C sends and leaves without reading; D must not see C's reply.
        const c = await RawClient.connect(agent.socket);
        opened.push(c);
        await c.write('{"execute": "guest-sync", "arguments": {"id": 50}}');
        await new Promise((r) => setTimeout(r, 200));
        c.sock.destroy();
        await new Promise((r) => setTimeout(r, 100));
        const d = await RawClient.connect(agent.socket);
        opened.push(d);
        await d.write('{"execute": "guest-sync", "arguments": {"id": 51}}');
        await d.waitFor((buf) => buf.toString().includes('{"return": 51}\n'));
        expect(d.take().toString()).toBe('{"return": 51}\n');
      } finally {
        for (const c of opened) await c.close().catch(() => {});
        await agent.stop();
      }
    });
  }
});
