// guest-file-open on a FIFO, against our agent and the real qemu-ga 7.2 side by side. qemu-ga opens
// every file with O_NONBLOCK (and keeps it), so opening a FIFO nobody writes to returns a handle at once,
// and reads and writes on that handle answer EAGAIN instead of waiting. A blocking open or read would
// stall every later command, guest-ping included, until some process opened the other end.
import { describe, it, expect, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StartedAgents } from "./harness.ts";
import type { RawClient } from "./harness.ts";

/** Every answer must come back within this; a blocked agent never answers. */
const PROMPT_MS = 2000;

const agents = new StartedAgents();
const dirs: string[] = [];

afterAll(async () => {
  await agents.stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cmd = (execute: string, args?: Record<string, unknown>): string => JSON.stringify(args ? { execute, arguments: args } : { execute });

/** Send one request and return its reply line (without the newline), failing if it takes longer than PROMPT_MS. */
async function ask(client: RawClient, request: string): Promise<{ line: string; ms: number }> {
  const t0 = Date.now();
  await client.write(request);
  await client.waitFor((b) => b.includes(0x0a), PROMPT_MS).catch((e: Error) => {
    throw new Error(`no answer to ${request} within ${PROMPT_MS} ms (${e.message})`);
  });
  const ms = Date.now() - t0;
  const all = client.take();
  const nl = all.indexOf(0x0a);
  client.unshift(all.subarray(nl + 1));
  return { line: all.subarray(0, nl).toString("latin1"), ms };
}

/**
 * The session both agents go through. A FIFO in a fresh directory; the path is replaced by FIFO in the
 * transcript, so both sides' lines compare byte for byte.
 */
async function session(kind: "ours" | "theirs"): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), `guestlink-fifo-${kind}-`));
  dirs.push(dir);
  const fifo = join(dir, "fifo");
  const mk = spawnSync("mkfifo", [fifo]);
  if (mk.status !== 0) throw new Error(`mkfifo failed: ${mk.stderr.toString()}`);
  const { client } = await agents.start(kind);
  const transcript: string[] = [];
  const step = async (request: string): Promise<string> => {
    const { line } = await ask(client, request);
    transcript.push(line.split(fifo).join("FIFO"));
    return line;
  };

  // Read-only with no writer: the handle comes back at once, guest-ping still answers, a read is EOF.
  const opened = await step(cmd("guest-file-open", { path: fifo, mode: "r" }));
  const handle = Number(/^\{"return": (\d+)\}$/.exec(opened)?.[1]);
  expect(handle, `${kind}: open answered ${opened}`).toBeGreaterThanOrEqual(1000);
  const ping = await ask(client, cmd("guest-ping"));
  expect(ping.line).toBe('{"return": {}}');
  expect(ping.ms, `${kind}: guest-ping after the FIFO open`).toBeLessThan(1000);
  await step(cmd("guest-file-read", { handle }));
  // A writer comes: the next read that gets all it asked for is no longer at end of file.
  const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(writer, "hi");
    await step(cmd("guest-file-read", { handle, count: 2 }));
  } finally {
    closeSync(writer);
  }
  // A successful read leaves the stream in reading state: a write must first seek, which a FIFO refuses.
  await step(cmd("guest-file-write", { handle, "buf-b64": "aGk=" }));
  await step(cmd("guest-file-seek", { handle, offset: 0, whence: "set" }));
  await step(cmd("guest-file-close", { handle }));

  // Read-write: the agent is its own writer, so an empty FIFO answers EAGAIN rather than EOF.
  const rw = Number(/^\{"return": (\d+)\}$/.exec(await step(cmd("guest-file-open", { path: fifo, mode: "r+" })))?.[1]);
  await step(cmd("guest-file-read", { handle: rw }));
  await step(cmd("guest-file-write", { handle: rw, "buf-b64": "aGk=" }));
  await step(cmd("guest-file-read", { handle: rw, count: 1 }));
  await step(cmd("guest-file-read", { handle: rw, count: 1 }));
  await step(cmd("guest-file-read", { handle: rw }));
  await step(cmd("guest-file-close", { handle: rw }));

  // Write-only with no reader: a non-blocking open fails with ENXIO instead of waiting for a reader.
  await step(cmd("guest-file-open", { path: fifo, mode: "w" }));
  const last = await ask(client, cmd("guest-ping"));
  expect(last.line).toBe('{"return": {}}');
  return transcript;
}

describe("guest-file-open on a FIFO (qemu-ga 7.2 as the yardstick)", () => {
  it("returns a handle at once, keeps answering, and reads and writes answer as qemu-ga's", async () => {
    const theirs = await session("theirs"); // fails loudly when qemu-ga is missing
    const ours = await session("ours");
    expect(theirs).toEqual([
      '{"return": 1000}',
      '{"return": {"count": 0, "buf-b64": "", "eof": true}}',
      '{"return": {"count": 2, "buf-b64": "aGk=", "eof": false}}',
      '{"error": {"class": "GenericError", "desc": "failed to seek file: Illegal seek"}}',
      '{"error": {"class": "GenericError", "desc": "failed to seek file: Illegal seek"}}',
      '{"return": {}}',
      '{"return": 1001}',
      '{"error": {"class": "GenericError", "desc": "failed to read file: Resource temporarily unavailable"}}',
      '{"return": {"count": 2, "eof": false}}',
      '{"return": {"count": 1, "buf-b64": "aA==", "eof": false}}',
      '{"return": {"count": 1, "buf-b64": "aQ==", "eof": false}}',
      '{"error": {"class": "GenericError", "desc": "failed to read file: Resource temporarily unavailable"}}',
      '{"return": {}}',
      `{"error": {"class": "GenericError", "desc": "failed to open file 'FIFO' (mode: 'w'): No such device or address"}}`,
    ]);
    expect(ours).toEqual(theirs);
  });
});
