// A host-side client for any qemu-guest-agent behind a unix socket (a libvirt channel, QEMU's
// chardev, or our own agent). It speaks the protocol the way libvirt and VDSM do: resynchronise
// with 0xFF + guest-sync-delimited and a fresh id, then one command at a time, one response line
// each, every step under a timeout. Any timeout or framing surprise closes the connection; the
// next call reconnects and resynchronises, so a confused or hung agent never poisons later calls.
import { connect, type Socket } from "node:net";

export interface QgaClientOptions {
  path: string;
  connectTimeoutMs?: number;
  /** Per command; libvirt uses 5 s, VDSM 1 s. */
  commandTimeoutMs?: number;
  /** A response line longer than this is refused (guest-file-read answers can be large). */
  maxResponseBytes?: number;
  /** Source of sync ids; injectable so tests are repeatable. */
  nextId?: () => number;
}

/** Stale guest-sync-delimited answers skipped before giving up (one per sync left unread). */
const MAX_STALE_SYNC_REPLIES = 256;

export const QGA_CLIENT_DEFAULTS = { connectTimeoutMs: 1000, commandTimeoutMs: 5000, maxResponseBytes: 16 << 20 } as const;

export class QgaError extends Error {
  constructor(
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`${errorClass}: ${desc}`);
    this.name = "QgaError";
  }
}

export class QgaTimeout extends Error {
  override name = "QgaTimeout";
}

type Waiter = { resolve: (line: string) => void; reject: (err: Error) => void; delimited: boolean };

export class QgaClient {
  private socket: Socket | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: Waiter | undefined;
  private synced = false;
  private readonly opts: Required<Omit<QgaClientOptions, "nextId">> & { nextId: () => number };

  constructor(options: QgaClientOptions) {
    this.opts = {
      ...QGA_CLIENT_DEFAULTS,
      nextId: () => Math.floor(Math.random() * 2 ** 31),
      ...options,
    } as typeof this.opts;
  }

  /** Runs one command and returns its `return` value; throws QgaError for an agent error. */
  async call(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (!this.synced) await this.sync();
    const line = await this.exchange(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n", false);
    return this.unwrap(line);
  }

  /** Connects if needed and aligns the stream: everything before the delimited reply is dropped. */
  async sync(): Promise<void> {
    if (!this.socket) await this.open();
    const id = this.opts.nextId();
    const request = Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } }) + "\n")]);
    let got = this.unwrap(await this.exchange(request, true));
    // Syncs sent while nobody read the port (the guest still booting, the agent restarting) are
    // queued in the guest and answered in a burst once an agent reads them: skip those stale
    // answers, as libvirt does, until ours comes. Bounded, so a babbling agent cannot hold us.
    for (let stale = 0; got !== id; stale++) {
      if (typeof got !== "number" || stale >= MAX_STALE_SYNC_REPLIES) {
        this.close();
        throw new Error(`guest-sync-delimited answered ${JSON.stringify(got)}, expected ${id}`);
      }
      got = this.unwrap(await this.exchange(undefined, true));
    }
    this.synced = true;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.synced = false;
    this.chunks = [];
    this.buffered = 0;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(new Error("connection closed"));
  }

  private unwrap(line: string): unknown {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.close();
      throw new Error(`not JSON from the agent: ${line.slice(0, 120)}`);
    }
    if (msg && typeof msg === "object" && "return" in msg) return (msg as { return: unknown }).return;
    const err = (msg as { error?: { class?: unknown; desc?: unknown } } | null)?.error;
    if (err && typeof err === "object") throw new QgaError(String(err.class), String(err.desc));
    this.close();
    throw new Error(`unexpected message from the agent: ${line.slice(0, 120)}`);
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.opts.path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new QgaTimeout(`connect to ${this.opts.path} timed out after ${this.opts.connectTimeoutMs} ms`));
      }, this.opts.connectTimeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        this.socket = socket;
        socket.on("data", (d: Buffer) => this.onData(d));
        socket.on("close", () => { if (this.socket === socket) this.close(); });
        socket.on("error", () => { if (this.socket === socket) this.close(); });
        resolve();
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Sends `request` (nothing when undefined: another answer to the last one is awaited) and waits for a line. */
  private exchange(request: string | Buffer | undefined, delimited: boolean): Promise<string> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error("not connected"));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.close();
        reject(new QgaTimeout(`no answer within ${this.opts.commandTimeoutMs} ms`));
      }, this.opts.commandTimeoutMs);
      this.waiter = {
        delimited,
        resolve: (line) => { clearTimeout(timer); resolve(line); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      if (request !== undefined) socket.write(request);
      this.drain();
    });
  }

  private onData(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    if (this.buffered > this.opts.maxResponseBytes) {
      const w = this.waiter;
      this.waiter = undefined;
      this.close();
      w?.reject(new Error(`response over ${this.opts.maxResponseBytes} bytes`));
      return;
    }
    this.drain();
  }

  /** Hands the next complete line to the waiter. Lines that arrive unasked are stale and dropped. */
  private drain(): void {
    if (!this.waiter || this.buffered === 0) {
      if (!this.waiter && this.synced) this.discardCompleteLines();
      return;
    }
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    if (this.waiter.delimited) {
      // Skip everything up to the 0xFF that prefixes the delimited reply.
      const ff = buf.indexOf(0xff);
      if (ff < 0) {
        // Keep only a possible partial line's tail; nothing before a 0xFF can matter.
        this.chunks = [];
        this.buffered = 0;
        return;
      }
      buf = buf.subarray(ff + 1);
    }
    const nl = buf.indexOf(0x0a);
    if (nl < 0) {
      this.chunks = [buf];
      this.buffered = buf.length;
      if (this.waiter.delimited) this.waiter.delimited = false; // the 0xFF was consumed
      return;
    }
    const line = buf.subarray(0, nl).toString("utf8");
    const rest = buf.subarray(nl + 1);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    const w = this.waiter;
    this.waiter = undefined;
    w.resolve(line);
  }

  private discardCompleteLines(): void {
    const buf = Buffer.concat(this.chunks);
    const nl = buf.lastIndexOf(0x0a);
    if (nl < 0) return;
    const rest = buf.subarray(nl + 1);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
  }
}
