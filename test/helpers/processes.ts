// Starting and stopping the built programs in tests: free loopback ports, waiting for a server to
// answer, and killing only what the test started (by PID), even when the test fails.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { get } from "node:http";
import { createServer } from "node:net";

const started = new Set<ChildProcess>();

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Started { child: ChildProcess; output: () => string }

export function start(program: string, args: string[], opts: SpawnOptions = {}): Started {
  const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  started.add(child);
  child.once("exit", () => started.delete(child));
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  return { child, output: () => out };
}

/** Sends SIGTERM and waits for the exit code (SIGKILL after `graceMs`). */
export function stop(child: ChildProcess, graceMs = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", (code) => { clearTimeout(timer); resolve(code); });
    child.kill("SIGTERM");
  });
}

/** Stops every process a test started and has not stopped: for afterAll/afterEach. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((c) => stop(c, 3000)));
}

export function httpGet(url: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on("error", reject);
  });
}

/** Polls until `check` returns a value (not undefined), or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
