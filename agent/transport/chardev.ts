// virtio-serial and isa-serial: a character device read with fs reads (net.Socket refuses char devices).
// Reads block in the libuv thread pool, so an idle agent costs no CPU. When the host side of a virtio port
// is not connected the kernel answers reads with EOF (or a pty with EIO): we sleep and retry, never exit,
// and the session keeps its parser state, so a request split across a reconnect still completes.
import { open, read, write, close, constants } from "node:fs";
import { spawnSync } from "node:child_process";
import type { ChannelSession } from "./session.ts";
import type { Transport } from "./unix-listen.ts";

export interface CharDeviceOptions {
  /** Pause between read attempts while the host side is disconnected (qemu-ga: 100 ms). */
  disconnectedPollMs?: number;
  /** isa-serial: put the line into raw mode with stty once at open. */
  rawTermios?: boolean;
  readChunk?: number;
  log?: (m: string) => void;
}

export class CharDeviceTransport implements Transport {
  private fd = -1;
  private stopped = false;
  private readonly pollMs: number;
  private readonly log: (m: string) => void;
  private writeChain: Promise<void> = Promise.resolve();
  private pendingWrites = 0;
  private drainCbs: (() => void)[] = [];

  constructor(private readonly path: string, private readonly session: ChannelSession, private readonly opts: CharDeviceOptions = {}) {
    this.pollMs = opts.disconnectedPollMs ?? 100;
    this.log = opts.log ?? (() => {});
  }

  async start(): Promise<void> {
    this.fd = await new Promise<number>((resolve, reject) =>
      open(this.path, constants.O_RDWR | constants.O_NOCTTY, (err, fd) => (err ? reject(err) : resolve(fd))));
    if (this.opts.rawTermios) {
      const r = spawnSync("stty", ["-F", this.path, "raw", "-echo"], { stdio: "ignore" });
      if (r.status !== 0) this.log(`stty raw on ${this.path} failed`);
    }
    this.session.attach({
      write: (data) => this.enqueueWrite(Buffer.from(data, "latin1")),
      onDrain: (cb) => this.drainCbs.push(cb),
    });
    void this.readLoop();
  }

  private enqueueWrite(data: Buffer): boolean {
    this.pendingWrites++;
    this.writeChain = this.writeChain.then(() => this.writeAll(data)).catch((e: Error) => this.log(`write failed: ${e.message}`))
      .finally(() => {
        this.pendingWrites--;
        if (this.pendingWrites === 0) for (const cb of this.drainCbs) cb();
      });
    return this.pendingWrites < 2;
  }

  private async writeAll(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length && !this.stopped) {
      const n = await new Promise<number>((resolve, reject) =>
        write(this.fd, data, off, data.length - off, null, (err, written) => {
          if (!err) return resolve(written);
          if (err.code === "EAGAIN") return setTimeout(() => resolve(0), 10);
          reject(err);
        }));
      off += n;
    }
  }

  private async readLoop(): Promise<void> {
    const buf = Buffer.alloc(this.opts.readChunk ?? 65536);
    while (!this.stopped) {
      await this.session.waitForInputCapacity();
      const n = await new Promise<number>((resolve) =>
        read(this.fd, buf, 0, buf.length, null, (err, bytes) => {
          if (err) {
            // EIO: a pty whose other end is closed; EAGAIN: nothing yet. Both mean "host not there".
            if (err.code !== "EAGAIN" && err.code !== "EIO") this.log(`read ${this.path}: ${err.message}`);
            return resolve(-1);
          }
          resolve(bytes);
        }));
      if (this.stopped) break;
      if (n <= 0) {
        await new Promise((r) => setTimeout(r, this.pollMs));
        continue;
      }
      this.session.feed(buf.subarray(0, n));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.fd >= 0) await new Promise<void>((resolve) => close(this.fd, () => resolve()));
  }
}
