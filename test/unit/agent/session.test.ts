import { describe, it, expect } from "vitest";
import { ChannelSession } from "../../../agent/transport/session.ts";
import { Dispatcher } from "../../../agent/dispatch/dispatcher.ts";
import { CommandRegistry, defineCommand } from "../../../agent/dispatch/registry.ts";

function makeSession(maxQueuedRequests = 4): ChannelSession {
  const reg = new CommandRegistry<null>().register(
    defineCommand<null>({ name: "guest-sync", run: (a) => a.id }),
    defineCommand<null>({ name: "guest-sync-delimited", run: (a, ctx) => { ctx.delimitResponse(); return a.id; } }),
  );
  return new ChannelSession(new Dispatcher(reg, null) as Dispatcher<unknown>, { maxQueuedRequests });
}

describe("ChannelSession", () => {
  it("answers in order, one line each, 0xFF before delimited replies", async () => {
    const s = makeSession();
    const out: string[] = [];
    s.attach({ write: (b) => { out.push(b); return true; }, onDrain: () => {} });
    s.feed(Buffer.from('{"execute":"guest-sync","arguments":{"id":1}}{"execute":"guest-sync-delimited","arguments":{"id":2}}'));
    await s.idle();
    expect(out.join("")).toBe('{"return": 1}\n\xff{"return": 2}\n');
  });

  it("stops taking input while the sink is full and resumes on drain", async () => {
    const s = makeSession();
    const out: string[] = [];
    let drain: (() => void) | undefined;
    let full = true;
    s.attach({ write: (b) => { out.push(b); return !full; }, onDrain: (cb) => { drain = cb; } });
    s.feed(Buffer.from('{"execute":"guest-sync","arguments":{"id":1}}{"execute":"guest-sync","arguments":{"id":2}}'));
    await new Promise((r) => setTimeout(r, 10));
    expect(out.length).toBe(1); // the second reply waits for the drain
    expect(s.acceptsInput()).toBe(false);
    let resumed = false;
    void s.waitForInputCapacity().then(() => { resumed = true; });
    await new Promise((r) => setTimeout(r, 10));
    expect(resumed).toBe(false);
    full = false;
    drain!();
    await s.idle();
    expect(resumed).toBe(true);
    expect(out.join("")).toBe('{"return": 1}\n{"return": 2}\n');
  });

  it("drops replies while no client is attached, keeps parser state for the next", async () => {
    const s = makeSession();
    s.attach(null);
    s.feed(Buffer.from('{"execute":"guest-sync","arguments":{"id":1}}{"execute":"guest-sync",'));
    await s.idle();
    const out: string[] = [];
    s.attach({ write: (b) => { out.push(b); return true; }, onDrain: () => {} });
    s.feed(Buffer.from('"arguments":{"id":2}}'));
    await s.idle();
    expect(out.join("")).toBe('{"return": 2}\n');
  });
});
