// Batched receive and send for a UDP socket that Node's dgram already watches.
//
// Why: through dgram, every DHCP datagram costs a recvmsg and a sendmsg system call, a 64 KiB
// receive allocation, a source-address string, an address lookup deferred to the next tick and
// two callbacks. Batching cut the server's CPU time per reply at full speed by a third (25.7 to
// 17.1 µs in bench/dhcp, DHCP_BENCH_BATCH_SLOTS=0 against 32). Here dgram only says when the
// socket is readable; whatever else is queued is then read with recvmmsg(2) into buffers
// allocated once, and the replies of the whole batch leave in one sendmmsg(2). Both calls are
// non-blocking on the descriptor libuv already made non-blocking, so the event loop never waits.
//
// The layout of struct mmsghdr below is Linux's on 64-bit targets (x64, arm64); elsewhere
// DatagramBatch.create returns undefined and the service keeps to plain dgram.
import koffi from "koffi";
import { formatIpv4 } from "../model/addr.ts";
import { AF_INET, EAGAIN, EINTR, MSG_DONTWAIT, getLibc } from "../os/libc.ts";
import { cachedIpv4Value } from "./packet.ts";
import { writeSockaddrIn } from "./socket.ts";

const SOCKADDR_IN_BYTES = 16;
const IOVEC_BYTES = 16;
/** struct mmsghdr: struct msghdr (56 bytes) then unsigned int msg_len, padded to 64. */
const MMSGHDR_BYTES = 64;
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_LEN = 56;

export interface DatagramBatchOptions {
  /** Datagrams per recvmmsg/sendmmsg call. */
  slots: number;
  /** Room for one received datagram; a longer one arrives cut to this length. */
  receiveBytes: number;
  /** Room for one queued reply; a longer one goes out through dgram instead. */
  sendBytes: number;
}

export const DEFAULT_DATAGRAM_BATCH_OPTIONS: DatagramBatchOptions = { slots: 32, receiveBytes: 9001, sendBytes: 1500 };

/** Why a flush could not send everything: the unsent rest, for the caller to send another way. */
export interface FlushResult {
  sent: number;
  /** Replies the kernel had no room for (EAGAIN), in order; the caller queues them through dgram. */
  deferred: { bytes: Uint8Array; port: number; address: string }[];
  /** Replies refused with another error, with the error text; each is dropped. */
  failed: { address: string; error: string }[];
}

/** A vector of struct mmsghdr whose every entry points at its own iovec, buffer slot and sockaddr_in. */
class MessageVector {
  readonly headers: Buffer;
  readonly data: Buffer;
  readonly names: Buffer;
  /** The kernel reads these through the addresses in `headers`; this reference keeps them alive. */
  private readonly iovecs: Buffer;

  constructor(readonly slots: number, readonly slotBytes: number) {
    this.headers = Buffer.alloc(slots * MMSGHDR_BYTES);
    const iovecs = Buffer.alloc(slots * IOVEC_BYTES);
    this.data = Buffer.alloc(slots * slotBytes);
    this.names = Buffer.alloc(slots * SOCKADDR_IN_BYTES);
    const dataAt = koffi.address(this.data);
    const iovecAt = koffi.address(iovecs);
    const nameAt = koffi.address(this.names);
    for (let i = 0; i < slots; i++) {
      iovecs.writeBigUInt64LE(dataAt + BigInt(i * slotBytes), i * IOVEC_BYTES);
      iovecs.writeBigUInt64LE(BigInt(slotBytes), i * IOVEC_BYTES + 8);
      const h = i * MMSGHDR_BYTES;
      this.headers.writeBigUInt64LE(nameAt + BigInt(i * SOCKADDR_IN_BYTES), h + MSG_NAME);
      this.headers.writeUInt32LE(SOCKADDR_IN_BYTES, h + MSG_NAMELEN);
      this.headers.writeBigUInt64LE(iovecAt + BigInt(i * IOVEC_BYTES), h + MSG_IOV);
      this.headers.writeBigUInt64LE(1n, h + MSG_IOVLEN);
    }
    this.iovecs = iovecs;
  }

  /** Sets slot i's iovec length to the length of the reply about to be sent from it. */
  setLength(i: number, length: number): void {
    this.iovecs.writeUInt32LE(length, i * IOVEC_BYTES + 8);
  }

  resetNameLength(i: number): void {
    this.headers.writeUInt32LE(SOCKADDR_IN_BYTES, i * MMSGHDR_BYTES + MSG_NAMELEN);
  }

  receivedLength(i: number): number {
    return this.headers.readUInt32LE(i * MMSGHDR_BYTES + MSG_LEN);
  }
}

/** A reply waiting for the next sendmmsg, its destination already parsed. */
interface QueuedReply {
  bytes: Uint8Array;
  port: number;
  address: string;
  addressValue: number;
}

export class DatagramBatch {
  private readonly rx: MessageVector;
  private readonly tx: MessageVector;
  private readonly pending: QueuedReply[] = [];

  private constructor(private readonly fd: number, private readonly o: DatagramBatchOptions) {
    this.rx = new MessageVector(o.slots, o.receiveBytes);
    this.tx = new MessageVector(o.slots, o.sendBytes);
  }

  /** A batch for an IPv4 UDP socket's descriptor; undefined where the mmsghdr layout is unknown. */
  static create(fd: number, options: Partial<DatagramBatchOptions> = {}): DatagramBatch | undefined {
    if (process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "arm64")) return undefined;
    const o = { ...DEFAULT_DATAGRAM_BATCH_OPTIONS, ...options };
    if (!Number.isInteger(o.slots) || o.slots < 1 || o.slots > 1024) throw new Error(`slots must be 1-1024, not ${o.slots}`);
    return new DatagramBatch(fd, o);
  }

  /**
   * Reads up to `budget` queued datagrams without waiting and calls onDatagram for each, in the
   * order they arrived. `data` is a view into a buffer the next read overwrites: the handler must
   * not keep it. Returns how many were read; stops early when the queue is empty.
   */
  receive(budget: number, onDatagram: (data: Buffer, from: string) => void): number {
    const libc = getLibc();
    let total = 0;
    while (total < budget) {
      const want = Math.min(this.o.slots, budget - total);
      // The kernel rewrites each msg_namelen; the iovecs keep the full slot size.
      for (let i = 0; i < want; i++) this.rx.resetNameLength(i);
      const n = libc.recvmmsg(this.fd, this.rx.headers, want, MSG_DONTWAIT);
      if (n < 0) {
        const errno = koffi.errno();
        if (errno === EINTR) continue;
        // EAGAIN: drained. Anything else (the socket closed under us) ends this batch too; dgram
        // reports socket errors on its own.
        break;
      }
      for (let i = 0; i < n; i++) {
        const at = i * SOCKADDR_IN_BYTES;
        const names = this.rx.names;
        const from = names.readUInt16LE(at) === AF_INET ? formatIpv4(names.readUInt32BE(at + 4)) : "";
        const start = i * this.o.receiveBytes;
        onDatagram(this.rx.data.subarray(start, start + this.rx.receivedLength(i)), from);
      }
      total += n;
      if (n < want) break;
    }
    return total;
  }

  /** Queues a reply for the next flush; false when it cannot be batched (too long, or not IPv4). */
  queue(bytes: Uint8Array, port: number, address: string): boolean {
    const addressValue = bytes.length > this.o.sendBytes ? undefined : cachedIpv4Value(address);
    if (addressValue === undefined) return false;
    this.pending.push({ bytes, port, address, addressValue });
    return true;
  }

  get queued(): number {
    return this.pending.length;
  }

  /** Sends every queued reply, slots at a time, in order. */
  flush(): FlushResult {
    const result: FlushResult = { sent: 0, deferred: [], failed: [] };
    const libc = getLibc();
    let next = 0;
    while (next < this.pending.length) {
      const count = Math.min(this.o.slots, this.pending.length - next);
      for (let i = 0; i < count; i++) {
        const r = this.pending[next + i]!;
        this.tx.data.set(r.bytes, i * this.o.sendBytes);
        this.tx.setLength(i, r.bytes.length);
        writeSockaddrIn(this.tx.names, i * SOCKADDR_IN_BYTES, r.addressValue, r.port);
        this.tx.resetNameLength(i);
      }
      const n = libc.sendmmsg(this.fd, this.tx.headers, count, MSG_DONTWAIT);
      if (n > 0) {
        result.sent += n;
        next += n;
        continue;
      }
      const errno = koffi.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        result.deferred.push(...this.pending.slice(next));
        break;
      }
      // sendmmsg reports the first message's error; that message is dropped, the rest retried.
      result.failed.push({ address: this.pending[next]!.address, error: getLibc().strerror(errno) });
      next++;
    }
    this.pending.length = 0;
    return result;
  }
}
