// DatagramBatch on real loopback sockets: what recvmmsg reads (order, length, source, the cut at
// the slot size, the budget) and what sendmmsg sends (every queued reply, each to its own
// destination, errors reported per reply). The sockets are made through libc and never handed
// to dgram, so datagrams stay queued in the kernel until the batch reads them.
import { afterEach, describe, expect, it } from "vitest";
import koffi from "koffi";
import { DatagramBatch } from "../../../metadata-server/dhcp/datagram-batch.ts";
import { sockaddrIn } from "../../../metadata-server/dhcp/socket.ts";
import { AF_INET, getLibc } from "../../../metadata-server/os/libc.ts";

const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const LOOPBACK = 0x7f000001;

const opened: number[] = [];

/** A non-blocking UDP socket bound to 127.0.0.1:port (0: any free port); returns fd and port. */
function udpSocket(): { fd: number; port: number } {
  const libc = getLibc();
  const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) throw new Error(`socket: errno ${koffi.errno()}`);
  opened.push(fd);
  // Ports are taken from a high range at random; a clash is retried.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    if (libc.bind(fd, sockaddrIn(LOOPBACK, port), 16) === 0) return { fd, port };
  }
  throw new Error("no free loopback port");
}

function sendFrom(fd: number, payload: Buffer, port: number): void {
  const n = getLibc().sendto(fd, payload, payload.length, 0, sockaddrIn(LOOPBACK, port), 16);
  if (n !== payload.length) throw new Error(`sendto: errno ${koffi.errno()}`);
}

function readAll(batch: DatagramBatch, budget = 1000): { data: string; from: string }[] {
  const got: { data: string; from: string }[] = [];
  batch.receive(budget, (data, from) => got.push({ data: data.toString("latin1"), from }));
  return got;
}

afterEach(() => {
  for (const fd of opened.splice(0)) getLibc().close(fd);
});

describe("DatagramBatch.receive", () => {
  it("reads every queued datagram in order, in several calls when there are more than slots", () => {
    const server = udpSocket();
    const client = udpSocket();
    for (let i = 0; i < 70; i++) sendFrom(client.fd, Buffer.from(`datagram ${i}`), server.port);
    const batch = DatagramBatch.create(server.fd, { slots: 16 })!;
    const got = readAll(batch);
    expect(got.map((g) => g.data)).toEqual(Array.from({ length: 70 }, (_, i) => `datagram ${i}`));
    expect(new Set(got.map((g) => g.from))).toEqual(new Set(["127.0.0.1"]));
    expect(readAll(batch)).toEqual([]);
  });

  it("stops at the budget and leaves the rest queued", () => {
    const server = udpSocket();
    const client = udpSocket();
    for (let i = 0; i < 10; i++) sendFrom(client.fd, Buffer.from([i]), server.port);
    const batch = DatagramBatch.create(server.fd, { slots: 4 })!;
    const first: number[] = [];
    expect(batch.receive(6, (d) => first.push(d[0]!))).toBe(6);
    expect(first).toEqual([0, 1, 2, 3, 4, 5]);
    const rest: number[] = [];
    expect(batch.receive(100, (d) => rest.push(d[0]!))).toBe(4);
    expect(rest).toEqual([6, 7, 8, 9]);
  });

  it("cuts a datagram longer than a slot to the slot size, so the decoder sees it as too long", () => {
    const server = udpSocket();
    const client = udpSocket();
    sendFrom(client.fd, Buffer.alloc(3000, 7), server.port);
    sendFrom(client.fd, Buffer.alloc(300, 8), server.port);
    const batch = DatagramBatch.create(server.fd, { slots: 4, receiveBytes: 1001 })!;
    const lengths: number[] = [];
    batch.receive(10, (d) => lengths.push(d.length));
    expect(lengths).toEqual([1001, 300]);
  });

  it("returns 0 on an empty socket without waiting", () => {
    const server = udpSocket();
    const batch = DatagramBatch.create(server.fd)!;
    expect(batch.receive(32, () => { throw new Error("no datagram expected"); })).toBe(0);
  });
});

describe("DatagramBatch.flush", () => {
  it("sends every queued reply to its own destination and port, in order", () => {
    const server = udpSocket();
    const a = udpSocket();
    const b = udpSocket();
    const batch = DatagramBatch.create(server.fd, { slots: 8 })!;
    for (let i = 0; i < 20; i++) {
      expect(batch.queue(Buffer.from(`reply ${i}`), i % 2 ? b.port : a.port, "127.0.0.1")).toBe(true);
    }
    expect(batch.queued).toBe(20);
    const r = batch.flush();
    expect(r).toEqual({ sent: 20, deferred: [], failed: [] });
    expect(batch.queued).toBe(0);
    const atA = readAll(DatagramBatch.create(a.fd)!);
    const atB = readAll(DatagramBatch.create(b.fd)!);
    expect(atA.map((g) => g.data)).toEqual(Array.from({ length: 10 }, (_, i) => `reply ${i * 2}`));
    expect(atB.map((g) => g.data)).toEqual(Array.from({ length: 10 }, (_, i) => `reply ${i * 2 + 1}`));
    expect(atA[0]!.from).toBe("127.0.0.1");
  });

  it("reports a reply the kernel refuses and still sends the ones after it", () => {
    const server = udpSocket();
    const a = udpSocket();
    const batch = DatagramBatch.create(server.fd, { slots: 8 })!;
    batch.queue(Buffer.from("first"), a.port, "127.0.0.1");
    // Without SO_BROADCAST the kernel refuses a broadcast destination (EACCES).
    batch.queue(Buffer.from("refused"), a.port, "255.255.255.255");
    batch.queue(Buffer.from("last"), a.port, "127.0.0.1");
    const r = batch.flush();
    expect(r.sent).toBe(2);
    expect(r.failed).toEqual([{ address: "255.255.255.255", error: expect.stringMatching(/permission/i) }]);
    expect(readAll(DatagramBatch.create(a.fd)!).map((g) => g.data)).toEqual(["first", "last"]);
  });

  it("refuses to queue what it cannot batch: a reply longer than a slot, or a destination that is not IPv4", () => {
    const server = udpSocket();
    const batch = DatagramBatch.create(server.fd, { sendBytes: 600 })!;
    expect(batch.queue(Buffer.alloc(601), 68, "127.0.0.1")).toBe(false);
    expect(batch.queue(Buffer.alloc(10), 68, "::1")).toBe(false);
    expect(batch.queue(Buffer.alloc(10), 68, "300.1.2.3")).toBe(false);
    expect(batch.queued).toBe(0);
  });

  it("refuses a slot count outside 1-1024", () => {
    expect(() => DatagramBatch.create(0, { slots: 0 })).toThrow(/slots/);
    expect(() => DatagramBatch.create(0, { slots: 2000 })).toThrow(/slots/);
  });
});
