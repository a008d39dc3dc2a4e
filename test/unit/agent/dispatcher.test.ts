import { describe, it, expect } from "vitest";
import { Dispatcher } from "../../../agent/dispatch/dispatcher.ts";
import { CommandRegistry, defineCommand } from "../../../agent/dispatch/registry.ts";
import { JsonMessageStream } from "../../../agent/protocol/index.ts";

function make(opts: ConstructorParameters<typeof Dispatcher<null>>[2] = {}): Dispatcher<null> {
  const reg = new CommandRegistry<null>().register(
    defineCommand<null>({ name: "guest-ping", allowedWhileFrozen: true, run: () => ({}) }),
    defineCommand<null>({ name: "guest-sync", run: (a) => a.id }),
    defineCommand<null>({ name: "guest-shutdown", noSuccessResponse: true, run: () => undefined }),
  );
  return new Dispatcher(reg, null, opts);
}

async function call(d: Dispatcher<null>, req: string): Promise<string | null> {
  const [m] = new JsonMessageStream().feed(Buffer.from(req));
  return (await d.dispatch(m!)).line;
}

describe("Dispatcher", () => {
  it("echoes ids of any type", async () => {
    expect(await call(make(), '{"execute":"guest-ping","id":[1,{"a":null}]}')).toBe('{"return": {}, "id": [1, {"a": null}]}');
  });

  it("sends nothing for a successful no-response command", async () => {
    expect(await call(make(), '{"execute":"guest-shutdown"}')).toBeNull();
  });

  it("-b disables a command before its arguments are looked at", async () => {
    expect(await call(make({ blockedRpcs: ["guest-sync"] }), '{"execute":"guest-sync"}'))
      .toBe('{"error": {"class": "CommandNotFound", "desc": "Command guest-sync has been disabled"}}');
  });

  it("-a enables only the listed commands", async () => {
    const d = make({ allowedRpcs: ["guest-ping"] });
    expect(await call(d, '{"execute":"guest-ping"}')).toBe('{"return": {}}');
    expect(await call(d, '{"execute":"guest-sync","arguments":{"id":1}}')).toContain("Command guest-sync has been disabled");
  });

  it("the frozen state disables all but the allowed commands, with qemu-ga's reason", async () => {
    const d = make();
    d.setFrozen(true);
    expect(await call(d, '{"execute":"guest-ping"}')).toBe('{"return": {}}');
    expect(await call(d, '{"execute":"guest-sync","arguments":{"id":1}}'))
      .toBe('{"error": {"class": "CommandNotFound", "desc": "Command guest-sync has been disabled: the agent is in frozen state"}}');
  });
});
