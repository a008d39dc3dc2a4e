// cloud-init's verdict in the console: from the latest QGA poll (the agent's own report has none),
// else from the stored record, which is what survives a restart.
import { describe, expect, it } from "vitest";
import { consoleState } from "../../../metadata-server/hub/console-view.ts";
import type { GuestRecord } from "../../../metadata-server/hub/store.ts";
import { loadSiteFile } from "../../../metadata-server/inventory/load.ts";
import { checkMtu } from "../../../metadata-server/model/consistency.ts";
import type { ObservedGuest } from "../../../metadata-server/observe/types.ts";

const VM_A = "00000000-0000-4000-8000-000000000501";

async function site() {
  const load = await loadSiteFile("test/fixtures/inventories/mtu-check.yaml");
  if (!load.site) throw new Error(JSON.stringify(load.issues));
  return load.site;
}

const observed = (source: string, cloudInit?: ObservedGuest["cloudInit"]): ObservedGuest => ({
  vmId: VM_A, source, at: "2026-11-24T00:00:00.000Z", interfaces: [], ...(cloudInit ? { cloudInit } : {}),
});
const record = (o: ObservedGuest): GuestRecord => ({ vmId: VM_A, observed: o, raw: {}, receivedAt: o.at });

describe("cloud-init in the console", () => {
  it("is null for a VM nothing has reported on", async () => {
    const s = await site();
    const vm = consoleState(s, { record: () => undefined, mtu: checkMtu({ site: s }) }).vms.find((v) => v.id === VM_A)!;
    expect(vm.cloudInit).toBeNull();
  });

  it("comes from the latest QGA poll while the agent's report is the stored one, and its errors count as problems", async () => {
    const s = await site();
    const polled = observed("qga:/run/vm-a.sock", { done: true, datasource: "DataSourceNoCloud", errors: ["('scripts_user', RuntimeError('Runparts: 1 failures'))"] });
    const agent = record(observed("agent"));
    const quiet = consoleState(s, { record: (id) => (id === VM_A ? agent : undefined), mtu: checkMtu({ site: s }) }).vms.find((v) => v.id === VM_A)!;
    const state = consoleState(s, { record: (id) => (id === VM_A ? agent : undefined), mtu: checkMtu({ site: s }), polled: (id) => (id === VM_A ? polled : undefined) });
    const vm = state.vms.find((v) => v.id === VM_A)!;
    expect(vm.source).toBe("agent");
    expect(vm.cloudInit).toEqual(polled.cloudInit);
    expect(vm.problems).toBe(quiet.problems + 1);
  });

  it("takes the latest poll's verdict, and the stored record's when no poll is known (after a restart)", async () => {
    const s = await site();
    const stored = record(observed("qga:/run/vm-a.sock", { done: false, errors: [] }));
    const newer = observed("qga:/run/vm-a.sock", { done: true, errors: [] });
    const find = (polls: () => ObservedGuest | undefined) => consoleState(s, { record: () => stored, mtu: checkMtu({ site: s }), polled: polls }).vms.find((v) => v.id === VM_A)!;
    expect(find(() => newer).cloudInit).toEqual({ done: true, errors: [] });
    expect(find(() => undefined).cloudInit).toEqual({ done: false, errors: [] });
  });
});

describe("ages and the guest's clock in the console", () => {
  const at = (guestAt: string, receivedAt: string): GuestRecord => ({ vmId: VM_A, observed: { ...observed("agent"), at: guestAt }, raw: {}, receivedAt });
  const vmOf = async (rec: GuestRecord) => {
    const s = await site();
    return consoleState(s, { record: (id) => (id === VM_A ? rec : undefined), mtu: checkMtu({ site: s }) }).vms.find((v) => v.id === VM_A)!;
  };
  const base = async () => (await vmOf(at("2026-11-24T00:00:00.000Z", "2026-11-24T00:00:00.000Z"))).problems;

  it("dates a report by when the server received it, and calls a guest clock an hour ahead a problem", async () => {
    const vm = await vmOf(at("2026-11-24T01:00:00.000Z", "2026-11-24T00:00:00.000Z"));
    expect(vm.reportedAt).toBe("2026-11-24T00:00:00.000Z");
    expect(vm.guestClock).toEqual({ at: "2026-11-24T01:00:00.000Z", skewSeconds: 3600, problem: expect.stringMatching(/3600 s ahead of the server's \(limit 300 s\)/) });
    expect(vm.problems).toBe((await base()) + 1);
  });

  it("takes a small skew as no problem", async () => {
    const vm = await vmOf(at("2026-11-23T23:59:58.000Z", "2026-11-24T00:00:00.000Z"));
    expect(vm.guestClock).toEqual({ at: "2026-11-23T23:59:58.000Z", skewSeconds: -2, problem: null });
    expect(vm.problems).toBe(await base());
  });

  it("keeps a garbage clock as a fact and a problem, with a real age and no NaN anywhere", async () => {
    const vm = await vmOf(at("yesterday-ish \u0000", "2026-11-24T00:00:00.000Z"));
    expect(vm.reportedAt).toBe("2026-11-24T00:00:00.000Z");
    expect(vm.guestClock).toMatchObject({ skewSeconds: null, problem: expect.stringMatching(/not a time/) });
    expect(JSON.stringify(vm)).not.toMatch(/NaN/);
    expect(vm.problems).toBe((await base()) + 1);
  });
});
