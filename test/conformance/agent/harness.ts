// Starts our agent and the real qemu-ga side by side on unix sockets and talks to both byte-exactly.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect } from "node:net";
import type { Socket } from "node:net";

export const REPO = resolve(import.meta.dirname, "../../..");
export const FIXTURES = join(REPO, "test/fixtures/agent");

/** Finds the real qemu-ga; the suite fails loudly without it (scripts/install-test-deps.sh installs it). */
export function qemuGaPath(): string {
  for (const p of ["/usr/sbin/qemu-ga", "/usr/bin/qemu-ga"]) if (existsSync(p)) return p;
  const w = spawnSync("sh", ["-c", "command -v qemu-ga"], { encoding: "utf8" });
  if (w.status === 0 && w.stdout.trim()) return w.stdout.trim();
  throw new Error("qemu-ga not found: install Debian's qemu-guest-agent (scripts/install-test-deps.sh)");
}

/**
 * The shipped agent bundle, bin/guestlink-agent, which the test run's global setup builds with
 * packaging/build.mjs: the conformance suite tests exactly what ships.
 */
export function buildAgentBundle(): Promise<string> {
  const bundle = join(REPO, "bin", "guestlink-agent");
  if (!existsSync(bundle)) return Promise.reject(new Error(`${bundle} is missing: run npm run build (the test setup does)`));
  return Promise.resolve(bundle);
}

export interface RunningAgent {
  kind: "ours" | "theirs";
  socket: string;
  stateDir: string;
  dir: string;
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

export interface StartOptions {
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Use this executable for ours instead of the current node (the Node 18 test); GUESTLINK_AGENT_NODE
   * does the same for a whole run, e.g. the differential suite under scripts/fetch-node18.sh's node. */
  node?: string;
  nodeEnv?: Record<string, string>;
}

/** The socket file appears at bind(); accepting starts at listen(): probe until a connect succeeds. */
function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

async function waitForSocket(path: string, child: ChildProcess, errText: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`agent exited early (${child.exitCode}): ${errText()}`);
    if (existsSync(path) && (await canConnect(path))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`socket ${path} did not appear: ${errText()}`);
}

export async function startAgent(kind: "ours" | "theirs", opts: StartOptions = {}): Promise<RunningAgent> {
  // Find the program first: a missing peer fails before anything is created.
  const program = kind === "ours" ? await buildAgentBundle() : qemuGaPath();
  const dir = mkdtempSync(join(tmpdir(), `guestlink-${kind}-`));
  const socket = join(dir, "qga.sock");
  const stateDir = join(dir, "state");
  mkdirSync(stateDir);
  const common = ["-m", "unix-listen", "-p", socket, "-t", stateDir, "-f", join(dir, "agent.pid"), ...(opts.extraArgs ?? [])];
  const env = { ...process.env, ...(opts.env ?? {}) };
  const child = kind === "ours"
    ? spawn(opts.node ?? (process.env.GUESTLINK_AGENT_NODE || process.execPath), [program, ...common], { env: { ...env, ...(opts.nodeEnv ?? {}) }, stdio: ["ignore", "ignore", "pipe"] })
    : spawn(program, common, { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForSocket(socket, child, () => err);
  } catch (e) {
    await stop();
    throw e;
  }
  return { kind, socket, stateDir, dir, child, stderr: () => err, stop };
}

/**
 * The agents one test file starts, each with a connected raw client. stopAll() (call it from afterAll) closes
 * the clients, kills every agent by its PID and removes its directory, whether the test passed or not.
 */
export class StartedAgents {
  private readonly sides: { agent: RunningAgent; client?: RawClient }[] = [];

  /** Fails loudly when qemu-ga (theirs) or the bundle (ours) is missing. */
  async start(kind: "ours" | "theirs", opts: StartOptions = {}): Promise<{ agent: RunningAgent; client: RawClient }> {
    const side: { agent: RunningAgent; client?: RawClient } = { agent: await startAgent(kind, opts) };
    this.sides.push(side);
    side.client = await RawClient.connect(side.agent.socket);
    return { agent: side.agent, client: side.client };
  }

  async stopAll(): Promise<void> {
    for (const s of this.sides.splice(0)) {
      await s.client?.close().catch(() => {});
      await s.agent.stop();
    }
  }
}

/** A raw client: write bytes, collect bytes, wait for a marker line. */
export class RawClient {
  // Received bytes are kept as a list of chunks (a 22 MB reply arrives in hundreds of them: concatenating
  // on every chunk would be quadratic) plus a short latin-1 tail for spotting marker replies.
  private chunks: Buffer[] = [];
  private tail = "";
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly sock: Socket) {
    sock.on("data", (b: Buffer) => {
      this.chunks.push(b);
      this.tail = (this.tail + b.subarray(Math.max(0, b.length - 4096)).toString("latin1")).slice(-4096);
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("error", () => {});
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.sock.write(data, (e) => (e ? reject(e) : resolve())));
  }

  private get buf(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** Bytes received so far (consumed). */
  take(): Buffer {
    const b = this.buf;
    this.chunks = [];
    this.tail = "";
    return b;
  }

  /** Put bytes back in front of what is still unread. */
  unshift(b: Buffer): void {
    if (b.length) this.chunks.unshift(b);
  }

  private async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const have = (): string => JSON.stringify(this.tail.slice(-300));
      if (this.closed) throw new Error(`connection closed; have ${have()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; have ${have()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Wait until `pred(buffer)` holds; fails after timeoutMs (a missing answer, not a speed check). */
  waitFor(pred: (b: Buffer) => boolean, timeoutMs = 20000): Promise<void> {
    return this.until(() => pred(this.buf), timeoutMs);
  }

  /** Wait until the most recent bytes end with `suffix` (cheap for huge replies). */
  waitForEnding(suffix: string, timeoutMs = 60000): Promise<void> {
    return this.until(() => this.tail.endsWith(suffix), timeoutMs);
  }

  /** Send a guest-sync marker and return everything received before its reply (the reply removed). */
  async drainUntilMarker(marker: number): Promise<Buffer> {
    const line = `{"return": ${marker}}\n`;
    await this.write(`{"execute":"guest-sync","arguments":{"id":${marker}}}`);
    // The marker reply is the last thing the agent sends: nothing else is pending.
    await this.waitForEnding(line);
    const all = this.take();
    return all.subarray(0, all.length - line.length);
  }

  /** Resynchronise as the QGA spec describes: 0xFF, guest-sync-delimited, skip to the 0xFF reply. */
  async resync(id: number): Promise<void> {
    const reply = Buffer.from(`\xff{"return": ${id}}\n`, "latin1");
    await this.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"execute":"guest-sync-delimited","arguments":{"id":${id}}}`)]));
    await this.waitForEnding(reply.toString("latin1"));
    this.take();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.sock.once("close", () => resolve());
      this.sock.end();
      setTimeout(() => this.sock.destroy(), 200);
    });
  }
}

/** Split a response stream into lines (each keeps a leading 0xFF if it had one; the newline is removed). */
export function lines(b: Buffer): string[] {
  const s = b.toString("latin1");
  if (!s) return [];
  const parts = s.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  else throw new Error(`response stream does not end with a newline: ${JSON.stringify(s.slice(-200))}`);
  return parts;
}

// --------------------------------------------------------------------------------------------------
// Shapes: an independent reader of standard JSON that keeps the integer/float distinction and turns
// values into type signatures, so host-specific values compare by shape.

type Sig = string;

export function shapeOf(text: string): Sig {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const value = (): Sig => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const members: string[] = [];
      ws();
      if (text[i] === "}") {
        i++;
        return "{}";
      }
      for (;;) {
        ws();
        const k = str();
        ws();
        if (text[i++] !== ":") throw new Error(`bad JSON at ${i}`);
        members.push(`${k}:${value()}`);
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i++] !== "}") throw new Error(`bad JSON at ${i}`);
        return `{${members.sort().join(",")}}`;
      }
    }
    if (c === "[") {
      i++;
      const elems = new Set<string>();
      ws();
      if (text[i] === "]") {
        i++;
        return "[]";
      }
      for (;;) {
        elems.add(value());
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i++] !== "]") throw new Error(`bad JSON at ${i}`);
        return `[${[...elems].sort().join("|")}]`;
      }
    }
    if (c === '"') {
      str();
      return "str";
    }
    const m = /^(-?\d+)(\.\d+)?([eE][-+]?\d+)?|^(true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) throw new Error(`bad JSON at ${i}: ${text.slice(i, i + 20)}`);
    i += m[0].length;
    if (m[4]) return m[4] === "null" ? "null" : "bool";
    return m[2] || m[3] ? "float" : "int";
  };
  const str = (): string => {
    if (text[i] !== '"') throw new Error(`expected string at ${i}`);
    const start = i++;
    while (text[i] !== '"') {
      if (text[i] === "\\") i++;
      i++;
      if (i > text.length) throw new Error("unterminated string");
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const v = value();
  ws();
  if (i !== text.length) throw new Error(`trailing data in ${JSON.stringify(text.slice(0, 80))}`);
  return v;
}

/** A response line's shape, keeping error class and desc literally (they must match byte for byte). */
export function lineShape(line: string): string {
  const delimited = line.startsWith("\xff");
  const body = delimited ? line.slice(1) : line;
  if (body.startsWith('{"error"') || /"error": \{/.test(body)) {
    const parsed = JSON.parse(body) as { error: { class: string; desc: string } };
    return `${delimited ? "FF" : ""}error:${parsed.error.class}:${parsed.error.desc}:${shapeOf(body)}`;
  }
  return `${delimited ? "FF" : ""}${shapeOf(body)}`;
}
