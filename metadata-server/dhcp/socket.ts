// Sockets the DHCP/RA service needs and Node cannot make by itself:
// - a UDP socket on port 67 bound to one interface (SO_BINDTODEVICE). Binding to the interface's
//   address receives no broadcast DISCOVER, and 0.0.0.0 alone cannot tell interfaces apart, so
//   the socket is made through libc (koffi), bound to the device, then handed to dgram with
//   bind({ fd }) so receiving and sending stay on the event loop.
// - a raw ICMPv6 socket for router solicitations/advertisements, bound to the interface's
//   link-local address, hop limit 255 (RFC 4861 6.1.2: hosts drop RAs with any other).
//   Node has no raw sockets, and no way to watch a descriptor it did not make; solicitations are
//   rare, so queued ones are read without waiting every pollIntervalMs.
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import koffi from "koffi";
import { AF_INET, EAGAIN, EINTR, MSG_DONTWAIT, getLibc } from "../os/libc.ts";
import { ipv6Bytes, readIpv6 } from "../model/addr.ts";

const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const IPPROTO_IPV6 = 41;
const IPPROTO_ICMPV6 = 58;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_MULTICAST_LOOP = 19;
const IPV6_JOIN_GROUP = 20;
const ICMP6_FILTER = 1;
const MAX_DATAGRAMS_PER_POLL = 64;

export class SocketError extends Error {
  constructor(readonly step: string, readonly errno: number) {
    super(`${step}: ${getLibc().strerror(errno)} (errno ${errno})`);
  }
}

function check(step: string, rc: number, fd?: number): void {
  if (rc >= 0) return;
  const errno = koffi.errno();
  if (fd !== undefined) getLibc().close(fd);
  throw new SocketError(step, errno);
}

function intOpt(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

function deviceOpt(ifname: string): Buffer {
  return Buffer.from(`${ifname}\0`);
}

/** Writes a struct sockaddr_in (16 bytes) for an IPv4 address given as a 32-bit value at `at`. */
export function writeSockaddrIn(b: Buffer, at: number, address: number, port: number): void {
  b.writeUInt16LE(AF_INET, at);
  b.writeUInt16BE(port, at + 2);
  b.writeUInt32BE(address >>> 0, at + 4);
}

/** struct sockaddr_in for an IPv4 address given as a 32-bit value. */
export function sockaddrIn(address: number, port: number): Buffer {
  const b = Buffer.alloc(16);
  writeSockaddrIn(b, 0, address, port);
  return b;
}

function sockaddrIn6(address: string, port: number, scopeId: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  b.set(ipv6Bytes(address), 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

export function interfaceIndex(ifname: string): number {
  const idx = getLibc().ifNameToIndex(ifname);
  if (!idx) throw new Error(`no interface named ${ifname}`);
  return idx;
}

export function interfaceMac(ifname: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${ifname}/address`, "utf8").trim();
  } catch {
    return undefined;
  }
}

export function interfaceAddresses(ifname: string): { ipv4: string[]; linkLocal?: string } {
  const list = networkInterfaces()[ifname] ?? [];
  return {
    ipv4: list.filter((a) => a.family === "IPv4").map((a) => a.address),
    linkLocal: list.find((a) => a.family === "IPv6" && a.address.toLowerCase().startsWith("fe80:"))?.address,
  };
}

/** A device-bound dgram socket and its descriptor (for batched I/O beside dgram: datagram-batch.ts). */
export interface DeviceUdpSocket {
  socket: dgram.Socket;
  /** Owned by `socket`: closed when it closes, never to be closed by the holder. */
  fd: number;
}

/**
 * A dgram socket on 0.0.0.0:port that only sees and sends traffic of one interface.
 * receiveBufferBytes lets a burst of DISCOVERs queue instead of being dropped by the kernel; with
 * CAP_NET_ADMIN it may exceed net.core.rmem_max (SO_RCVBUFFORCE), otherwise it is capped there.
 */
export async function openDeviceUdpSocket(ifname: string, port: number, receiveBufferBytes?: number): Promise<DeviceUdpSocket> {
  const c = getLibc();
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  check("socket", fd);
  if (receiveBufferBytes !== undefined && c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, intOpt(receiveBufferBytes), 4) < 0) {
    c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, intOpt(receiveBufferBytes), 4);
  }
  check("SO_REUSEADDR", c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, intOpt(1), 4), fd);
  check("SO_BROADCAST", c.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, intOpt(1), 4), fd);
  const dev = deviceOpt(ifname);
  check(`SO_BINDTODEVICE ${ifname}`, c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length), fd);
  check(`bind 0.0.0.0:${port}`, c.bind(fd, sockaddrIn(0, port), 16), fd);
  const sock = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind({ fd }, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  sock.setBroadcast(true);
  return { socket: sock, fd };
}

/** A udp6 dgram socket on [::]:port bound to one interface, joined to the given multicast groups there. */
export async function openDeviceUdp6Socket(ifname: string, port: number, groups: string[]): Promise<dgram.Socket> {
  const c = getLibc();
  const fd = c.socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  check("socket(AF_INET6)", fd);
  check("SO_REUSEADDR", c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, intOpt(1), 4), fd);
  const dev = deviceOpt(ifname);
  check(`SO_BINDTODEVICE ${ifname}`, c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length), fd);
  check(`bind [::]:${port}`, c.bind(fd, sockaddrIn6("::", port, 0), 28), fd);
  const sock = dgram.createSocket({ type: "udp6" });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind({ fd }, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  for (const g of groups) sock.addMembership(g, `::%${ifname}`);
  return sock;
}

export interface RawIcmp6Options {
  /**
   * How often queued datagrams are read, ms. Reads never wait: a blocking read would hold one of
   * the four threads of libuv's pool, which file I/O shares (writing the lease file before an ACK,
   * reloading the inventory). Router solicitations are rare, and RFC 4861 6.2.6 lets a router
   * answer one up to 500 ms late.
   */
  pollIntervalMs: number;
  /** ICMPv6 types passed up by the kernel filter; everything else never reaches us. */
  acceptTypes: number[];
  /** Multicast groups to join on the interface (ff02::2 for router solicitations). */
  joinGroups: string[];
}

export const DEFAULT_RAW_ICMP6_OPTIONS: RawIcmp6Options = {
  pollIntervalMs: 100,
  acceptTypes: [133],
  joinGroups: ["ff02::2"],
};

export interface Icmp6Datagram {
  data: Uint8Array;
  source: string;
}

/** A raw ICMPv6 socket bound to one interface's link-local address, hop limit 255. */
export class RawIcmp6Socket {
  private closed = false;
  private poller?: NodeJS.Timeout;

  private constructor(
    private readonly fd: number,
    readonly ifname: string,
    readonly ifindex: number,
    readonly source: string,
    private readonly pollIntervalMs: number,
  ) {}

  static open(ifname: string, linkLocal: string, options: Partial<RawIcmp6Options> = {}): RawIcmp6Socket {
    const o = { ...DEFAULT_RAW_ICMP6_OPTIONS, ...options };
    const c = getLibc();
    const ifindex = interfaceIndex(ifname);
    const fd = c.socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    check("socket(AF_INET6, SOCK_RAW, ICMPV6)", fd);
    const dev = deviceOpt(ifname);
    check(`SO_BINDTODEVICE ${ifname}`, c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length), fd);
    check("IPV6_MULTICAST_HOPS", c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, intOpt(255), 4), fd);
    check("IPV6_UNICAST_HOPS", c.setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, intOpt(255), 4), fd);
    check("IPV6_MULTICAST_IF", c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, intOpt(ifindex), 4), fd);
    check("IPV6_MULTICAST_LOOP", c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, intOpt(0), 4), fd);
    // struct icmp6_filter: a set bit blocks the type.
    const filter = Buffer.alloc(32, 0xff);
    for (const t of o.acceptTypes) {
      const at = (t >> 5) * 4;
      filter.writeUInt32LE((filter.readUInt32LE(at) & ~(1 << (t & 31))) >>> 0, at);
    }
    check("ICMP6_FILTER", c.setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, filter, 32), fd);
    for (const g of o.joinGroups) {
      const mreq = Buffer.alloc(20);
      sockaddrIn6(g, 0, 0).copy(mreq, 0, 8, 24);
      mreq.writeUInt32LE(ifindex, 16);
      check(`join ${g}`, c.setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq, 20), fd);
    }
    // Binding the link-local address makes it the source of every RA (RFC 4861 6.1.2). It fails
    // with EADDRNOTAVAIL while the address is still tentative (DAD); the caller retries.
    check(`bind [${linkLocal}%${ifname}]`, c.bind(fd, sockaddrIn6(linkLocal.split("%")[0]!, 0, ifindex), 28), fd);
    return new RawIcmp6Socket(fd, ifname, ifindex, linkLocal, o.pollIntervalMs);
  }

  send(data: Uint8Array, destination: string): void {
    if (this.closed) return;
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const scope = destination.toLowerCase().startsWith("fe80:") || destination.toLowerCase().startsWith("ff02:") ? this.ifindex : 0;
    const rc = getLibc().sendto(this.fd, buf, buf.length, 0, sockaddrIn6(destination, 0, scope), 28);
    if (rc < 0) throw new SocketError(`sendto ${destination}`, koffi.errno());
  }

  /** Calls onMessage for every datagram until close(), reading what has queued every pollIntervalMs. */
  startReceiving(onMessage: (d: Icmp6Datagram) => void, onError: (e: unknown) => void): void {
    if (this.poller || this.closed) return;
    const buf = Buffer.alloc(1500);
    const from = Buffer.alloc(28);
    const fromLen = new Int32Array([28]);
    this.poller = setInterval(() => {
      // A bounded drain per tick: a flood of solicitations cannot hold the event loop.
      for (let i = 0; i < MAX_DATAGRAMS_PER_POLL && !this.closed; i++) {
        fromLen[0] = 28;
        const n = getLibc().recvfrom(this.fd, buf, buf.length, MSG_DONTWAIT, from, fromLen);
        if (n < 0) {
          const errno = koffi.errno();
          if (errno !== EAGAIN && errno !== EINTR) onError(new SocketError("recvfrom", errno));
          return;
        }
        try {
          onMessage({ data: Uint8Array.from(buf.subarray(0, n)), source: readIpv6(from, 8) });
        } catch (e) {
          onError(e);
        }
      }
    }, this.pollIntervalMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    getLibc().close(this.fd);
  }
}
