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
    const vm = consoleState(s, () => undefined, checkMtu({ site: s })).vms.find((v) => v.id === VM_A)!;
    expect(vm.cloudInit).toBeNull();
  });

  it("comes from the latest QGA poll while the agent's report is the stored one, and its errors count as problems", async () => {
    const s = await site();
    const polled = observed("qga:/run/vm-a.sock", { done: true, datasource: "DataSourceNoCloud", errors: ["('scripts_user', RuntimeError('Runparts: 1 failures'))"] });
    const agent = record(observed("agent"));
    const quiet = consoleState(s, (id) => (id === VM_A ? agent : undefined), checkMtu({ site: s })).vms.find((v) => v.id === VM_A)!;
    const state = consoleState(s, (id) => (id === VM_A ? agent : undefined), checkMtu({ site: s }), (id) => (id === VM_A ? polled : undefined));
    const vm = state.vms.find((v) => v.id === VM_A)!;
    expect(vm.source).toBe("agent");
    expect(vm.cloudInit).toEqual(polled.cloudInit);
    expect(vm.problems).toBe(quiet.problems + 1);
  });

  it("takes the latest poll's verdict, and the stored record's when no poll is known (after a restart)", async () => {
    const s = await site();
    const stored = record(observed("qga:/run/vm-a.sock", { done: false, errors: [] }));
    const newer = observed("qga:/run/vm-a.sock", { done: true, errors: [] });
    const find = (polls: () => ObservedGuest | undefined) => consoleState(s, () => stored, checkMtu({ site: s }), polls).vms.find((v) => v.id === VM_A)!;
    expect(find(() => newer).cloudInit).toEqual({ done: true, errors: [] });
    expect(find(() => undefined).cloudInit).toEqual({ done: false, errors: [] });
  });
});
