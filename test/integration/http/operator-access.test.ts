// Who reaches the operator side of the real server: the API routes and the console's live feed
// (/v1/events). A guest gets neither, a page on another site (foreign Origin) gets no event
// stream, a request naming a host that is not ours (DNS rebinding) is refused, and one address
// cannot take every event slot from the operator. An events client that stops answering pings
// is dropped.
import { connect } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { tempDir } from "../../helpers/peers.ts";
import { FIXTURE, openEvents, request, ServerProcess, SHARED_ADDRESS, STRANGER, VM_A, VM_B, type EventsAttempt } from "./server-process.ts";

const OPERATOR = "127.0.0.1";
const PROXY = "127.0.0.7";
/** A name the operator reaches the server by, configured with --operator-host. */
const OPERATOR_NAME = "metadata.example.test";

const work = tempDir("http-operator");
let server: ServerProcess;
const open: WebSocket[] = [];

beforeAll(async () => {
  server = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", join(work.path, "state"), "--trusted-proxy", PROXY, "--operator-host", OPERATOR_NAME]);
});
afterAll(async () => {
  for (const ws of open) ws.terminate();
  expect(await server?.stop()).toBe(0);
  work.remove();
});

const events = async (opts: Parameters<typeof openEvents>[1]): Promise<EventsAttempt> => {
  const a = await openEvents(server.port, opts);
  if (a.ws) open.push(a.ws);
  return a;
};

const OPERATOR_PATHS = ["/v1/vms", `/v1/vms/${VM_B.name}`, "/v1/networks", "/v1/guests", "/v1/mtu", "/v1/console/state", "/metrics", "/healthz", "/", "/console.js"];

describe("the event stream (/v1/events)", () => {
  it("is refused to guests, also on an address two VMs claim, and to the trusted proxy", async () => {
    for (const from of [VM_A.address, VM_B.address, SHARED_ADDRESS, PROXY]) {
      const a = await events({ from });
      expect(a.status, from).toBe(403);
      expect(a.ws).toBeUndefined();
    }
    const denied = await server.waitFor((l) => l.event === "http.denied" && l.route === "events" && l.peer === VM_A.address);
    expect(denied.why).toBe("guest-on-operator-api");
  });

  it("is refused to a page on another site (foreign Origin), given to the console's own origin and to non-browser clients", async () => {
    for (const origin of ["http://evil.example", `http://evil.example:${server.port}`, "http://127.0.0.1:1", "null", `https://127.0.0.1:${server.port}`]) {
      expect((await events({ from: OPERATOR, headers: { origin } })).status, origin).toBe(403);
    }
    // Origin names a host we accept, but not the one the request was sent to.
    expect((await events({ from: OPERATOR, headers: { origin: `http://${OPERATOR_NAME}:${server.port}` } })).status).toBe(403);
    expect((await events({ from: OPERATOR, headers: { origin: `http://127.0.0.1:${server.port}` } })).status).toBe(101);
    expect((await events({ from: OPERATOR, headers: { host: `localhost:${server.port}`, origin: `http://localhost:${server.port}` } })).status).toBe(101);
    expect((await events({ from: OPERATOR })).status).toBe(101);
  });

  it("is refused when the Host header is not one of ours", async () => {
    expect((await events({ from: OPERATOR, headers: { host: `evil.example:${server.port}` } })).status).toBe(403);
    const a = await events({ from: OPERATOR, headers: { host: `${OPERATOR_NAME}:${server.port}`, origin: `http://${OPERATOR_NAME}:${server.port}` } });
    expect(a.status).toBe(101);
  });

  it("cannot be filled by one address: the operator still connects", async () => {
    let opened = 0;
    // More than the hub's whole client limit (256), from one address that is not a guest.
    for (let batch = 0; batch < 9; batch++) {
      const attempts = await Promise.all(Array.from({ length: 32 }, () => events({ from: STRANGER })));
      opened += attempts.filter((a) => a.status === 101).length;
      for (const a of attempts) if (a.status !== 101) expect(a.status).toBe(429);
    }
    expect(opened).toBeLessThan(256);
    const operator = await events({ from: OPERATOR });
    expect(operator.status).toBe(101);
    for (const ws of open.splice(0)) ws.terminate();
  });
});

describe("operator routes", () => {
  it("are refused with 403 when the Host header names a host that is not ours (DNS rebinding)", async () => {
    for (const host of ["evil.example", `evil.example:${server.port}`, `127.0.0.1.evil.example:${server.port}`, `${OPERATOR_NAME}.evil.example`]) {
      for (const path of OPERATOR_PATHS) {
        const res = await request(server.port, path, { from: OPERATOR, headers: { host } });
        expect(res.status, `${path} with Host ${host}`).toBe(403);
        expect(res.text).not.toContain(VM_A.id);
      }
    }
    const denied = await server.waitFor((l) => l.event === "http.denied" && l.why === "host-not-allowed");
    expect(denied.status).toBe(403);
  });

  it("answer loopback names and addresses, the listener's own address and configured names", async () => {
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, "LOCALHOST", OPERATOR_NAME, `${OPERATOR_NAME}:8080`]) {
      expect((await request(server.port, "/v1/vms", { from: OPERATOR, headers: { host } })).status, host).toBe(200);
    }
  });

  it("are refused to guests and to the trusted proxy, whatever the forwarded headers say", async () => {
    for (const from of [VM_A.address, SHARED_ADDRESS, PROXY]) {
      for (const path of OPERATOR_PATHS.filter((p) => p !== "/")) {
        const res = await request(server.port, path, { from, headers: { "x-forwarded-for": OPERATOR } });
        expect(res.status, `${path} from ${from}`).toBe(403);
      }
    }
  });
});

describe("an events client that stops answering pings", () => {
  const idle = tempDir("http-operator-idle");
  let short: ServerProcess;
  beforeAll(async () => {
    const config = join(idle.path, "server.yaml");
    writeFileSync(config, "events:\n  pingIntervalMs: 300\n");
    short = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", join(idle.path, "state"), "--config", config]);
  });
  afterAll(async () => {
    expect(await short?.stop()).toBe(0);
    idle.remove();
  });

  it("is dropped, while one that answers stays", async () => {
    const answering = await openEvents(short.port, { from: OPERATOR });
    expect(answering.status).toBe(101);
    // A hand-made client: it completes the handshake, then never reads a frame or answers a ping.
    const socket = connect({ host: "127.0.0.1", port: short.port, localAddress: OPERATOR });
    let head = "";
    const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
    socket.on("data", (d) => { if (!head.includes("\r\n\r\n")) head += d.toString("latin1"); });
    socket.on("error", () => {});
    socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:${short.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const started = Date.now();
    const outcome = await Promise.race([closed, new Promise<"open">((r) => setTimeout(() => r("open"), 5_000))]);
    socket.destroy();
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(outcome, "the unresponsive client is still connected after 5 s").not.toBe("open");
    expect((outcome as number) - started).toBeLessThan(3_000);
    expect(answering.ws!.readyState).toBe(WebSocket.OPEN);
    answering.ws!.terminate();
  });
});
