// The server as a process: graceful SIGTERM (an in-flight response completes, exit status 0),
// refusing to start without a valid inventory, the state directory and its secret, and the
// limits on request heads and connections as a client meets them.
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers/peers.ts";
import { FIXTURE, guestlink, rawRequest, request, ServerProcess, VM_A } from "./server-process.ts";

const work = tempDir("http-life");
afterAll(() => work.remove());

describe("graceful shutdown", () => {
  it("lets an in-flight request finish, refuses new connections, and exits 0", async () => {
    const server = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", join(work.path, "state")]);
    // A token request whose body is still arriving: the server has the request but cannot answer
    // it until the body is complete, so it is in flight when SIGTERM comes.
    const socket = connect({ host: "127.0.0.1", port: server.port, localAddress: VM_A.address });
    await new Promise((r) => socket.once("connect", r));
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (answer += d));
    const closed = new Promise((r) => socket.once("close", r));
    socket.write("PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 10\r\n\r\nhalf-");
    // Wait until the server has parsed the head and is waiting for the body: two requests in
    // flight, that one and the /metrics request asking.
    let inFlight = 0;
    for (let i = 0; i < 200 && inFlight < 2; i++) {
      const metrics = await request(server.port, "/metrics");
      inFlight = Number(/^guestlink_http_requests_in_flight (\d+)$/m.exec(metrics.text)?.[1]);
    }
    expect(inFlight).toBe(2);
    const shuttingDown = server.waitForNext((l) => l.event === "http.shutting_down");
    server.signal("SIGTERM");
    const line = await shuttingDown;
    expect(line.inFlight).toBe(1);
    // The listener is closed: a new connection is refused.
    await expect(request(server.port, "/healthz")).rejects.toThrow(/ECONNREFUSED/);
    socket.write("body!");
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toMatch(/\r\n\r\n\d+\.[A-Za-z0-9_-]{43}$/);
    expect(await server.exited()).toBe(0);
    expect(server.logs.find((l) => l.event === "http.stopped")?.cutRequests).toBe(0);
  });
});

describe("start-up", () => {
  it("refuses to start on an invalid inventory (exit 1) and on a bad command line (exit 2)", () => {
    const bad = join(work.path, "bad.yaml");
    writeFileSync(bad, "vms: [\n");
    const run = (...args: string[]) => spawnSync(process.execPath, ["bin/guestlink", "serve", ...args], { encoding: "utf8", timeout: 30_000 });
    const invalid = run("--inventory", bad, "--listen", "127.0.0.1:0", "--state-dir", join(work.path, "s1"));
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(/"event":"inventory.rejected"/);
    expect(invalid.stderr).toMatch(/YAML_SYNTAX/);
    expect(run("--listen", "127.0.0.1:0").status).toBe(2);
    expect(run("--inventory", FIXTURE, "--listen", "nonsense").status).toBe(2);
    expect(run("--inventory", FIXTURE, "--trusted-proxy", "proxy.example").status).toBe(2);
    expect(run("--inventory", FIXTURE, "--public-url", "ftp://x/").status).toBe(2);
    expect(run("--inventory", FIXTURE, "--bogus").status).toBe(2);
    expect(run("--help").status).toBe(0);
  });

  it("creates the server secret once (32 bytes, mode 0600) and keeps seed URLs stable across restarts", async () => {
    const stateDir = join(work.path, "stable");
    const first = guestlink("seed-url", FIXTURE, "--vm", VM_A.name, "--state-dir", stateDir).stdout;
    const secretPath = join(stateDir, "server-secret");
    expect(statSync(secretPath).mode & 0o777).toBe(0o600);
    expect(readFileSync(secretPath).length).toBe(32);
    const server = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", stateDir]);
    expect(server.logs.some((l) => l.event === "state.secret_loaded")).toBe(true);
    const token = /\/nocloud\/([^/]+)\//.exec(first)![1]!;
    expect((await request(server.port, `/nocloud/${token}/meta-data`)).status).toBe(200);
    expect(await server.stop()).toBe(0);
    expect(guestlink("seed-url", FIXTURE, "--vm", VM_A.name, "--state-dir", stateDir).stdout).toBe(first);
    // A different state directory means a different secret, so the old token is worthless there.
    const other = guestlink("seed-url", FIXTURE, "--vm", VM_A.name, "--state-dir", join(work.path, "other")).stdout;
    expect(other).not.toBe(first);
  });

  it("refuses a damaged secret instead of silently replacing it", () => {
    const stateDir = join(work.path, "damaged");
    guestlink("seed-url", FIXTURE, "--vm", VM_A.name, "--state-dir", stateDir);
    writeFileSync(join(stateDir, "server-secret"), "short");
    const r = spawnSync(process.execPath, ["bin/guestlink", "serve", "--inventory", FIXTURE, "--listen", "127.0.0.1:0", "--state-dir", stateDir], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/"event":"state.failed".*holds 5 bytes, not 32/);
    expect(readFileSync(join(stateDir, "server-secret"), "utf8")).toBe("short");
  });

  it("seed-url checks its arguments", () => {
    expect(guestlink("seed-url", FIXTURE).status).toBe(2);
    expect(guestlink("seed-url", FIXTURE, "--vm", "nope", "--state-dir", join(work.path, "s2")).status).toBe(1);
    expect(guestlink("seed-url", FIXTURE, "--vm", VM_A.name, "--url", "http://a;b/").status).toBe(2);
    const nocloud = guestlink("seed-url", FIXTURE, "--vm", VM_A.name, "--ds", "nocloud", "--url", "http://192.0.2.1:8775/", "--state-dir", join(work.path, "s2"));
    expect(nocloud.stdout).toMatch(/^ds=nocloud;s=http:\/\/192\.0\.2\.1:8775\/nocloud\/[A-Za-z0-9_-]{43}\/\n$/);
  });
});

describe("limits", () => {
  it("answers 431 to an oversized request head, 408 to one that never completes, 413 to a body", async () => {
    const server = await ServerProcess.start([
      "--inventory", FIXTURE, "--state-dir", join(work.path, "state"), "--config", writeConfig({ limits: { maxHeaderSize: 2048, headersTimeoutMs: 300, requestTimeoutMs: 300 } }),
    ]);
    try {
      const huge = await rawRequest(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${"a".repeat(4096)}\r\n\r\n`);
      expect(huge).toMatch(/^HTTP\/1\.1 431 /);
      // Request head never finished (slowloris): the server answers 408 and closes.
      const slow = await rawRequest(server.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
      expect(slow).toMatch(/^HTTP\/1\.1 408 /);
      const body = await request(server.port, "/latest/api/token", { method: "PUT", from: VM_A.address, headers: { "x-aws-ec2-metadata-token-ttl-seconds": "60", "content-length": "4096" } }).catch((e: Error) => e);
      expect(body instanceof Error ? body.message : body.status).toBe(413);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it("closes connections beyond maxConnections", async () => {
    const server = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", join(work.path, "state"), "--config", writeConfig({ limits: { maxConnections: 2 } })]);
    const open: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const s = connect({ host: "127.0.0.1", port: server.port });
        await new Promise((r) => s.once("connect", r));
        open.push(s);
      }
      // Over the limit node closes the connection at once: no answer, or a reset.
      const third = await rawRequest(server.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").catch((e: Error) => e.message);
      expect(third).toMatch(/^$|ECONNRESET/);
      for (const s of open) s.destroy();
      open.length = 0;
      // Once the others are gone, connections are accepted again.
      let ok = "";
      for (let attempt = 0; attempt < 50 && !ok.startsWith("HTTP/1.1 200"); attempt++) {
        ok = await rawRequest(server.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").catch(() => "");
        if (!ok) await new Promise((r) => setTimeout(r, 50));
      }
      expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      for (const s of open) s.destroy();
      expect(await server.stop()).toBe(0);
    }
  });
});

let configs = 0;
function writeConfig(config: Record<string, unknown>): string {
  const path = join(work.path, `config-${++configs}.yaml`);
  writeFileSync(path, JSON.stringify(config));
  return path;
}
