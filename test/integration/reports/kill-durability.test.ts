// An acknowledged report survives kill -9. Agents report as fast as the server takes them; the
// server is killed with SIGKILL at a random moment of the burst, 30 times; after each restart,
// every VM's stored report must be at least as new as the last one its agent saw acknowledged.
// Before acks waited for the store's group commit, 32 kills lost 156 acknowledged reports.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAgent, reportedInterface, type SimAgent } from "../../helpers/agent-sim.ts";
import { tempDir } from "../../helpers/peers.ts";
import { httpGet, stopAll } from "../../helpers/processes.ts";
import { macOf, makeSite, startServe, vmIdOf, type Site } from "./site.ts";

const VMS = 20;
const KILLS = 30;
const work = tempDir("kill-durability");
let site: Site;

beforeAll(async () => {
  // The rate limit is raised so that the burst is as dense as the store can take.
  site = await makeSite(work.path, VMS, { agentHub: { ratePerSecond: 2000, rateBurst: 2000 } });
});

afterAll(async () => {
  await stopAll();
  work.remove();
});

/** A seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe("reports acknowledged before a kill -9", () => {
  it(`are all there after each of ${KILLS} restarts`, async () => {
    const rand = random(20261207);
    /** Per VM, the highest seq ever acknowledged, over every server life. */
    const acked = new Array<number>(VMS).fill(-1);
    let seq = 0;
    let totalAcked = 0;
    let newerThanAcked = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const server = await startServe(site);
      const agents: SimAgent[] = await Promise.all(Array.from({ length: VMS }, (_, i) => connectAgent(site.base, site.stateDir, vmIdOf(i))));
      let sending = true;
      const pump = async () => {
        while (sending) {
          for (let i = 0; i < VMS; i++) {
            agents[i]!.send({ type: "report", seq: ++seq, full: true, at: new Date().toISOString(), interfaces: [reportedInterface("eth0", macOf(i), 1500 + (seq % 7))] });
          }
          await new Promise((r) => setTimeout(r, 1));
        }
      };
      const pumping = pump();
      await new Promise((r) => setTimeout(r, 150 + rand() * 600));
      const exited = new Promise((r) => server.child.once("exit", r));
      server.child.kill("SIGKILL");
      await exited;
      sending = false;
      await pumping;
      // Only acks that reached the agent before the kill count: those are what an agent was told.
      agents.forEach((a, i) => { if (a.acked > acked[i]!) { totalAcked++; acked[i] = a.acked; } a.close(); });

      const again = await startServe(site);
      for (let i = 0; i < VMS; i++) {
        const r = await httpGet(`${site.base}v1/vms/${vmIdOf(i)}/guest`);
        const stored = r.status === 200 ? (JSON.parse(r.body).raw.report.seq as number) : -1;
        expect(stored, `VM ${i} after kill ${kill + 1}: acknowledged seq ${acked[i]}, stored ${stored}`).toBeGreaterThanOrEqual(acked[i]!);
        if (stored > acked[i]!) newerThanAcked++;
      }
      // The next life starts from here: the server is stopped cleanly, the agents reconnect.
      const exitedAgain = new Promise((r) => again.child.once("exit", r));
      again.child.kill("SIGTERM");
      await exitedAgain;
    }
    console.log(`[kill-durability] ${KILLS} kills, ${seq} reports sent, every acknowledged report kept; ${newerThanAcked} VM-kills kept a report newer than its last ack (written, ack still on its way)`);
    expect(totalAcked).toBeGreaterThan(KILLS); // the kills did land in the middle of acknowledged traffic
  }, 240_000);
});
