// Runs the built `bin/guestlink serve` as a child process on a free loopback port (port 0) and
// speaks HTTP to it as any guest: each request can bind its socket to a chosen 127.x source
// address. Only the process started here is ever signalled, by its PID.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import { connect } from "node:net";
import WebSocket from "ws";

export const FIXTURE = "test/integration/http/fixtures/site.yaml";
export const VM_A = { name: "vm-a", id: "00000000-0000-4000-8000-00000000000a", address: "127.0.0.42" };
export const VM_B = { name: "vm-b", id: "00000000-0000-4000-8000-00000000000b", address: "127.0.0.43" };
/** Claimed by vm-c and vm-d at once: identifies nobody. */
export const SHARED_ADDRESS = "127.0.0.44";
/** In the site's subnet but owned by no VM. */
export const STRANGER = "127.0.0.99";

export interface LogLine { event: string; level: string; [k: string]: unknown }

export class ServerProcess {
  readonly logs: LogLine[] = [];
  port = 0;
  private exit: Promise<number | null>;
  private waiters: Array<{ test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];

  private constructor(readonly child: ChildProcess) {
    let buffer = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let parsed: LogLine;
        try { parsed = JSON.parse(line) as LogLine; } catch { parsed = { event: "text", level: "info", text: line }; }
        this.logs.push(parsed);
        this.waiters = this.waiters.filter((w) => (w.test(parsed) ? (w.resolve(parsed), false) : true));
      }
    });
    child.stdout!.resume();
    this.exit = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  static async start(args: string[]): Promise<ServerProcess> {
    const child = spawn(process.execPath, ["bin/guestlink", "serve", "--listen", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const server = new ServerProcess(child);
    const ready = server.waitFor((l) => l.event === "serve.ready", 20_000);
    const failed = server.exit.then((code) => { throw new Error(`serve exited with ${code}: ${JSON.stringify(server.logs)}`); });
    await Promise.race([ready, failed]);
    const listening = server.logs.find((l) => l.event === "http.listening");
    server.port = Number(listening?.port);
    return server;
  }

  /** Resolves with the first log line (already seen or future) that passes the test. */
  waitFor(test: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const seen = this.logs.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matched within ${timeoutMs} ms; logs: ${JSON.stringify(this.logs.slice(-10))}`)), timeoutMs);
      this.waiters.push({ test, resolve: (l) => { clearTimeout(timer); resolve(l); } });
    });
  }

  /** Waits for a log line that appears after this call. */
  waitForNext(test: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const from = this.logs.length;
    return this.waitFor((l) => this.logs.indexOf(l) >= from && test(l), timeoutMs);
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }

  signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) process.kill(this.child.pid, sig);
  }

  exited(): Promise<number | null> { return this.exit; }

  async stop(): Promise<number | null> {
    this.signal("SIGTERM");
    return this.exit;
  }
}

export interface Response { status: number; headers: IncomingHttpHeaders; body: Buffer; text: string }

/** One request on a fresh connection; `path` is sent exactly as given (no client-side normalisation). */
export function request(port: number, path: string, opts: { method?: string; headers?: OutgoingHttpHeaders; from?: string } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: opts.headers ?? {}, agent: false,
      ...(opts.from ? { localAddress: opts.from } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString("utf8") });
      });
      res.on("error", reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout on ${path}`)));
    req.on("error", reject);
    req.end();
  });
}

/** Sends raw bytes and returns the raw answer: for request targets an HTTP client would rewrite. */
export function rawRequest(port: number, bytes: string, from?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ...(from ? { localAddress: from } : {}) });
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (out += d));
    socket.on("end", () => resolve(out));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
    socket.setTimeout(15_000, () => socket.destroy(new Error("raw request timed out")));
    socket.write(bytes);
  });
}

/** `guestlink` CLI call, synchronously. */
export function guestlink(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/guestlink", ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface EventsAttempt {
  /** 101 when the stream opened, else the status the server refused the upgrade with. */
  status: number;
  ws?: WebSocket;
  /** Messages received while open. */
  messages: string[];
}

/**
 * Opens the console's event stream (/v1/events) the way a client at `from` would, with the
 * given headers (a browser sends Origin; `host` overrides the Host header). Resolves once the
 * server answered the upgrade, one way or the other.
 */
export function openEvents(port: number, opts: { from?: string; headers?: Record<string, string>; via?: number } = {}): Promise<EventsAttempt> {
  return new Promise((resolve, reject) => {
    const messages: string[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${opts.via ?? port}/v1/events`, {
      headers: opts.headers ?? {}, handshakeTimeout: 10_000, ...(opts.from ? { localAddress: opts.from } : {}),
    });
    ws.on("message", (d) => messages.push(String(d)));
    ws.once("open", () => resolve({ status: 101, ws, messages }));
    ws.once("unexpected-response", (_req, res) => { res.resume(); resolve({ status: res.statusCode ?? 0, messages }); ws.terminate(); });
    ws.on("error", (err) => reject(err));
  });
}
