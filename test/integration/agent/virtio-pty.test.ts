// A socat pty pair stands in for a virtio-serial port (and for a serial line): our agent opens end A as
// its character device, the test plays the host on end B, hangs up and comes back, and the agent keeps
// its parser state. isa-serial is the same channel after `stty raw` on the line.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, openSync, closeSync, writeSync, readSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildAgentBundle } from "../../conformance/agent/harness.ts";

let dir = "";
const started: ChildProcess[] = [];
let agent: ChildProcess;
let serialAgent: ChildProcess;

async function waitFor(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One host-side session on end B: write, then collect until `until` matches. */
async function hostSession(write: string, until: RegExp | null, end = "B"): Promise<string> {
  const fd = openSync(join(dir, end), constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  try {
    writeSync(fd, Buffer.from(write, "latin1")); // latin-1: '\xff' must go out as the single byte 0xFF
    let got = "";
    const buf = Buffer.alloc(4096);
    const deadline = Date.now() + (until ? 15000 : 400);
    while (Date.now() < deadline) {
      try {
        const n = readSync(fd, buf, 0, buf.length, null);
        got += buf.subarray(0, n).toString("latin1");
        if (until && until.test(got)) return got;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (until) throw new Error(`no answer matching ${until}; got ${JSON.stringify(got)}`);
    return got;
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  if (spawnSync("sh", ["-c", "command -v socat"]).status !== 0) throw new Error("socat is required (scripts/install-test-deps.sh)");
  dir = mkdtempSync(join(tmpdir(), "guestlink-pty-"));
  const socat = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${join(dir, "A")}`, `pty,raw,echo=0,link=${join(dir, "B")}`], { stdio: "ignore" });
  started.push(socat);
  await waitFor(() => existsSync(join(dir, "A")) && existsSync(join(dir, "B")), "socat ptys");
  agent = spawn(process.execPath, [await buildAgentBundle(), "-m", "virtio-serial", "-p", join(dir, "A"), "-t", join(dir, "state"), "-f", join(dir, "pid")], { stdio: "ignore" });
  started.push(agent);
  const serialSocat = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${join(dir, "C")}`, `pty,raw,echo=0,link=${join(dir, "D")}`], { stdio: "ignore" });
  started.push(serialSocat);
  await waitFor(() => existsSync(join(dir, "C")) && existsSync(join(dir, "D")), "socat ptys for the serial line");
  serialAgent = spawn(process.execPath, [await buildAgentBundle(), "-m", "isa-serial", "-p", join(dir, "C"), "-t", join(dir, "state2"), "-f", join(dir, "pid2")], { stdio: "ignore" });
  started.push(serialAgent);
});

afterAll(async () => {
  for (const c of started.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await gone;
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("virtio-serial over a pty pair", () => {
  it("answers on the character device", async () => {
    expect(await hostSession('{"execute":"guest-sync","arguments":{"id":1}}', /\n/)).toBe('{"return": 1}\n');
  });

  it("survives the host hanging up, and a request split across the reconnect completes", async () => {
    expect(await hostSession('{"execute":"guest-sync",', null)).toBe("");
    await new Promise((r) => setTimeout(r, 300)); // host side away for a while
    expect(agent.exitCode).toBeNull();
    expect(await hostSession('"arguments":{"id":2}}', /\n/)).toBe('{"return": 2}\n');
  });

  it("resynchronises with 0xFF after reconnecting", async () => {
    const out = await hostSession('\xff{"execute":"guest-sync-delimited","arguments":{"id":3}}', /\xff\{"return": 3\}\n/);
    expect(out.endsWith('\xff{"return": 3}\n')).toBe(true);
    expect(agent.exitCode).toBeNull();
  });
});

describe("isa-serial over a pty pair", () => {
  it("answers on the serial line and survives a hang-up mid-request", async () => {
    expect(await hostSession('{"execute":"guest-sync","arguments":{"id":10}}', /\n/, "D")).toBe('{"return": 10}\n');
    expect(await hostSession('{"execute":"guest-sync",', null, "D")).toBe("");
    expect(await hostSession('"arguments":{"id":11}}', /\n/, "D")).toBe('{"return": 11}\n');
    expect(serialAgent.exitCode).toBeNull();
  });
});

describe("-r/--retry-path", () => {
  it("waits for a device that appears later instead of exiting", async () => {
    const late = join(dir, "late-A");
    const retrying = spawn(process.execPath, [await buildAgentBundle(), "-m", "virtio-serial", "-p", late, "-r", "-t", join(dir, "state3"), "-f", join(dir, "pid3")], { stdio: "ignore" });
    started.push(retrying);
    await new Promise((r) => setTimeout(r, 500));
    expect(retrying.exitCode, "still running while the device is missing").toBeNull();
    const socat = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${late}`, `pty,raw,echo=0,link=${join(dir, "late-B")}`], { stdio: "ignore" });
    started.push(socat);
    await waitFor(() => existsSync(late) && existsSync(join(dir, "late-B")), "the late pty pair");
    // The agent retries every few seconds; the host keeps asking until it answers.
    let answer = "";
    for (let i = 0; i < 20 && !answer.includes("\n"); i++) {
      answer = await hostSession('\xff{"execute":"guest-sync-delimited","arguments":{"id":7}}', null, "late-B");
    }
    expect(answer.endsWith('\xff{"return": 7}\n')).toBe(true);
  });
});
