// The acceptors are about one event-loop turn: how many queued connections a turn accepts. The
// test queues connections while the loop is held (the kernel completes loopback handshakes on
// its own), then counts 'connection' events between two check phases (setImmediate).
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { addAcceptors } from "../../../metadata-server/http/acceptors.ts";

const servers: Server[] = [];
const clients: Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end("ok"));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

/** Queues `n` connections while the event loop is held, then returns the accepts per turn. */
async function acceptsPerTurn(server: Server, port: number, n: number): Promise<number[]> {
  const perTurn: number[] = [0];
  let accepted = 0;
  server.on("connection", () => { accepted++; perTurn[perTurn.length - 1]!++; });
  for (let i = 0; i < n; i++) {
    const c = connect({ host: "127.0.0.1", port });
    c.on("error", () => {});
    clients.push(c);
  }
  // Hold the loop so that every handshake completes in the kernel before the next poll.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  await new Promise<void>((resolve) => {
    const turn = () => {
      if (accepted >= n || perTurn.length > 200) { resolve(); return; }
      perTurn.push(0);
      setImmediate(turn);
    };
    setImmediate(turn);
  });
  return perTurn.filter((x) => x > 0);
}

describe("addAcceptors", () => {
  it("control: a plain node server accepts one queued connection per turn", async () => {
    const { server, port } = await listening();
    const turns = await acceptsPerTurn(server, port, 12);
    expect(turns.reduce((a, b) => a + b, 0)).toBe(12);
    expect(Math.max(...turns)).toBe(1);
  });

  it("with 8 acceptors, a turn accepts up to 8 queued connections", async () => {
    const { server, port } = await listening();
    const extra = await addAcceptors(server, 8, { noDelay: true }, (err) => { throw err; });
    servers.push(...(extra as unknown as Server[]));
    expect(extra).toHaveLength(7);
    const turns = await acceptsPerTurn(server, port, 12);
    expect(turns.reduce((a, b) => a + b, 0)).toBe(12);
    expect(Math.max(...turns)).toBeGreaterThan(1);
    expect(Math.max(...turns)).toBeLessThanOrEqual(8);
    expect(turns.length).toBeLessThan(12);
  });

  it("hands every connection to the HTTP server, which answers it", async () => {
    const { server, port } = await listening();
    servers.push(...((await addAcceptors(server, 4, { noDelay: true }, (err) => { throw err; })) as unknown as Server[]));
    const answers = await Promise.all(Array.from({ length: 16 }, () => fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } }).then((r) => r.text())));
    expect(answers).toEqual(Array(16).fill("ok"));
  });

  it("the socket listens until every acceptor is closed", async () => {
    const { server, port } = await listening();
    const extra = await addAcceptors(server, 3, { noDelay: true }, (err) => { throw err; });
    servers.splice(servers.indexOf(server), 1);
    await new Promise<void>((r) => server.close(() => r()));
    // The duplicates still hold the listening socket: connections are still accepted.
    const stillOpen = await new Promise<boolean>((r) => { const c = connect({ host: "127.0.0.1", port }); c.on("connect", () => { c.destroy(); r(true); }); c.on("error", () => r(false)); });
    expect(stillOpen).toBe(true);
    await Promise.all(extra.map((a) => new Promise<void>((r) => a.close(() => r()))));
    const refused = await new Promise<string>((r) => { const c = connect({ host: "127.0.0.1", port }); c.on("connect", () => { c.destroy(); r("connected"); }); c.on("error", (e: NodeJS.ErrnoException) => r(e.code ?? "error")); });
    expect(refused).toBe("ECONNREFUSED");
  });

  it("adds nothing when asked for one acceptor", async () => {
    const { server } = await listening();
    expect(await addAcceptors(server, 1, { noDelay: true }, (err) => { throw err; })).toEqual([]);
  });
});
