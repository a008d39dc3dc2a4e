// One QGA channel: bytes in, framed requests dispatched strictly in order, one response line out each.
// The framing state lives here, not in a connection, so it survives a host reconnect.
// Backpressure: while the output sink is full, or too many requests wait, the transport is told to stop
// reading (qemu-ga instead spins on a full channel).
import { JsonMessageStream } from "../protocol/framing.ts";
import type { FramedMessage, FramingLimits } from "../protocol/framing.ts";
import type { Dispatcher } from "../dispatch/dispatcher.ts";

export interface OutputSink {
  /** Queue bytes (a string is latin-1: one char per byte); false means "full, wait for drain". */
  write(data: string): boolean;
  onDrain(cb: () => void): void;
}

export interface SessionOptions {
  framing?: Partial<FramingLimits>;
  /** Stop reading input while this many framed requests wait to be dispatched. */
  maxQueuedRequests?: number;
  log?: (msg: string) => void;
  /** Called for every framed request (the idle collector listens). */
  onActivity?: () => void;
}

/** guest-sync-delimited's sentinel byte, as a latin-1 char. */
const SENTINEL = "\xff";

export class ChannelSession {
  private readonly stream: JsonMessageStream;
  private readonly queue: FramedMessage[] = [];
  private readonly maxQueued: number;
  private sink: OutputSink | null = null;
  private sinkFull = false;
  private running = false;
  private waiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly dispatcher: Dispatcher<unknown>, private readonly opts: SessionOptions = {}) {
    this.stream = new JsonMessageStream(opts.framing);
    this.maxQueued = opts.maxQueuedRequests ?? 64;
  }

  /** Attach the current client (or null when none: responses are then dropped, as qemu-ga's are). */
  attach(sink: OutputSink | null): void {
    this.sink = sink;
    this.sinkFull = false;
    sink?.onDrain(() => {
      if (this.sink !== sink) return;
      this.sinkFull = false;
      this.wake();
      void this.pump();
    });
    this.wake();
    // Requests still queued (backpressure) keep being processed: with no client attached their replies are
    // dropped, as qemu-ga drops replies for a client that left, instead of waiting for the next client.
    void this.pump();
  }

  feed(chunk: Uint8Array): void {
    const msgs = this.stream.feed(chunk);
    if (msgs.length) {
      this.opts.onActivity?.();
      for (const m of msgs) this.queue.push(m);
      void this.pump();
    }
  }

  /** True while the transport may read more input. */
  acceptsInput(): boolean {
    return !this.sinkFull && this.queue.length < this.maxQueued;
  }

  /** Resolves when input may be read again. */
  waitForInputCapacity(): Promise<void> {
    if (this.acceptsInput()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once every queued request has been answered. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wake(): void {
    if (!this.acceptsInput()) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length && !this.sinkFull) {
        const msg = this.queue.shift()!;
        const res = await this.dispatcher.dispatch(msg);
        if (res.line !== null && this.sink) {
          // The serialiser emits ASCII only, so the line goes out as a latin-1 string without copies.
          const out = res.delimited ? `${SENTINEL}${res.line}\n` : `${res.line}\n`;
          if (!this.sink.write(out)) this.sinkFull = true;
        }
        this.wake();
      }
    } finally {
      this.running = false;
    }
    if (this.queue.length === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }
}
