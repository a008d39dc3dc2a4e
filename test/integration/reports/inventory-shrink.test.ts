// A revision that drops VMs by mistake (a bad edit, a half-restored backup) and is put right
// again must not cost those VMs their guest records: the store keeps a missing VM's record for
// a grace period. Before, retain() deleted them the moment the smaller revision was published.
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAgent, reportedInterface } from "../../helpers/agent-sim.ts";
import { tempDir } from "../../helpers/peers.ts";
import { httpGet, stopAll, waitFor, type Started } from "../../helpers/processes.ts";
import { macOf, makeSite, siteYaml, startServe, vmIdOf, type Site } from "./site.ts";

const work = tempDir("inventory-shrink");
let site: Site;
let server: Started;

const vmsServed = async () => JSON.parse((await httpGet(`${site.base}healthz`)).body).vms as number;

beforeAll(async () => {
  site = await makeSite(work.path, 3, { watchDebounceMs: 50 });
  server = await startServe(site);
});

afterAll(async () => {
  await stopAll();
  work.remove();
});

describe("a revision that drops VMs, then gets them back", () => {
  it("keeps their guest records, and keeps them across a restart in between", async () => {
    for (let i = 0; i < 3; i++) {
      const agent = await connectAgent(site.base, site.stateDir, vmIdOf(i));
      agent.send({ type: "report", seq: 1, full: true, at: new Date().toISOString(), interfaces: [reportedInterface("eth0", macOf(i), 1400 + i)] });
      await waitFor(`the ack of vm-${i}`, () => (agent.acked === 1 ? true : undefined));
      agent.close();
    }
    writeFileSync(site.inventory, siteYaml(1)); // a valid inventory with vm-0 only
    await waitFor("the one-VM revision", async () => ((await vmsServed()) === 1 ? true : undefined));
    // A restart while the smaller revision is served: the records are still on disk.
    server.child.kill("SIGTERM");
    await new Promise((r) => server.child.once("exit", r));
    server = await startServe(site);
    writeFileSync(site.inventory, siteYaml(3));
    await waitFor("the three-VM revision", async () => ((await vmsServed()) === 3 ? true : undefined));
    for (let i = 0; i < 3; i++) {
      const r = await httpGet(`${site.base}v1/vms/${vmIdOf(i)}/guest`);
      expect(r.status, `vm-${i}`).toBe(200);
      expect(JSON.parse(r.body).observed.interfaces[0].mtu).toBe(1400 + i);
    }
  });
});
