// unix-listen: one client at a time. A second client is accepted by the kernel but not read from until
// the first leaves, as with qemu-ga. The session (and its parser state) outlives every client.
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { unlinkSync, existsSync, lstatSync } from "node:fs";
import type { ChannelSession } from "./session.ts";

export interface Transport {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class UnixListenTransport implements Transport {
  private server: Server | null = null;
  private current: Socket | null = null;
  private readonly waiting: Socket[] = [];

  constructor(private readonly path: string, private readonly session: ChannelSession, private readonly log: (m: string) => void = () => {}) {}

  async start(): Promise<void> {
    // A stale socket file from an earlier run would make listen() fail with EADDRINUSE.
    if (existsSync(this.path) && lstatSync(this.path).isSocket()) unlinkSync(this.path);
    this.server = createServer({ pauseOnConnect: true, allowHalfOpen: false }, (sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.path, () => {
        this.server!.off("error", reject);
        resolve();
      });
    });
  }

  private onConnection(sock: Socket): void {
    sock.on("error", (e) => this.log(`client error: ${e.message}`));
    if (this.current) {
      this.waiting.push(sock);
      sock.once("close", () => {
        const i = this.waiting.indexOf(sock);
        if (i >= 0) this.waiting.splice(i, 1);
      });
      return;
    }
    this.activate(sock);
  }

  private activate(sock: Socket): void {
    this.current = sock;
    const session = this.session;
    session.attach({
      write: (data) => (sock.destroyed ? true : sock.write(data, "latin1")),
      onDrain: (cb) => sock.on("drain", cb),
    });
    const resumeWhenReady = (): void => {
      if (sock.destroyed) return;
      void session.waitForInputCapacity().then(() => {
        if (this.current === sock && !sock.destroyed) sock.resume();
      });
    };
    sock.on("data", (chunk: Buffer) => {
      session.feed(chunk);
      if (!session.acceptsInput()) {
        sock.pause();
        resumeWhenReady();
      }
    });
    sock.once("close", () => {
      if (this.current !== sock) return;
      this.current = null;
      session.attach(null);
      const next = this.waiting.shift();
      if (next) this.activate(next);
    });
    sock.resume();
  }

  async stop(): Promise<void> {
    this.current?.destroy();
    for (const s of this.waiting) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
