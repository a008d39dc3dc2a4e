// Live inventory: a valid change is served as soon as it is loaded (after SIGHUP, and after a
// plain file write), an invalid one is logged with its problems and the last good revision keeps
// being served, and requests running across reloads never fail or see a mix of revisions.
import { closeSync, copyFileSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadSiteFile } from "../../../metadata-server/inventory/load.ts";
import { tempDir } from "../../helpers/peers.ts";
import { FIXTURE, guestlink, request, ServerProcess, VM_A, VM_B, type LogLine } from "./server-process.ts";

const work = tempDir("http-reload");
const original = readFileSync(FIXTURE, "utf8");
let server: ServerProcess | undefined;

afterEach(async () => {
  if (server) expect(await server.stop()).toBe(0);
  server = undefined;
});
afterAll(() => work.remove());

function setup(name: string): string {
  const path = join(work.path, `${name}.yaml`);
  copyFileSync(FIXTURE, path);
  return path;
}

/** Replaces the file the way config managers do: write a new file, rename it over the old one. */
function replaceFile(path: string, text: string) {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

/** The revision the server would give this text (the hash of the text and the bundled templates). */
async function revisionOf(name: string, text: string): Promise<string> {
  const path = join(work.path, `${name}.yaml`);
  writeFileSync(path, text);
  const site = (await loadSiteFile(path)).site;
  if (!site) throw new Error(`${name} is not a valid inventory`);
  return site.revision;
}

/** What the operator API says is being served. */
const servedRevision = async (s: ServerProcess) => (JSON.parse((await request(s.port, "/healthz")).text) as { revision: string }).revision;

/**
 * Rewrites the file in place the way a slow writer does: truncate, write the part before `cut`
 * (which is a valid inventory by itself), pause, write the rest. While paused, `duringPause` runs
 * in a loop (each round awaited), and its results are returned.
 */
async function pausedInPlaceWrite<T>(path: string, text: string, cut: number, pauseMs: number, duringPause: () => Promise<T>): Promise<T[]> {
  const fd = openSync(path, "w");
  const seen: T[] = [];
  try {
    writeSync(fd, text.slice(0, cut));
    const until = Date.now() + pauseMs;
    while (Date.now() < until) seen.push(await duringPause());
    writeSync(fd, text.slice(cut));
  } finally {
    closeSync(fd);
  }
  return seen;
}

const hostnameOfA = async (s: ServerProcess) => (await request(s.port, "/latest/meta-data/hostname", { from: VM_A.address })).text;
const loaded = (reason: RegExp) => (l: LogLine) => l.event === "inventory.loaded" && reason.test(String(l.reason));

describe("reload", () => {
  it("serves a valid change right after SIGHUP", async () => {
    const inventory = setup("hup");
    server = await ServerProcess.start(["--inventory", inventory, "--state-dir", join(work.path, "state"), "--no-watch"]);
    expect(await hostnameOfA(server)).toBe("vm-a");
    writeFileSync(inventory, original.replace("hostname: vm-a", "hostname: vm-a-renamed"));
    const next = server.waitForNext(loaded(/SIGHUP/));
    server.signal("SIGHUP");
    const line = await next;
    expect(line.previous).not.toBe(line.revision);
    expect(await hostnameOfA(server)).toBe("vm-a-renamed");
  });

  it("serves a valid change after a file write, without a signal", async () => {
    const inventory = setup("watch");
    server = await ServerProcess.start(["--inventory", inventory, "--state-dir", join(work.path, "state")]);
    expect(await hostnameOfA(server)).toBe("vm-a");
    const inPlace = server.waitForNext(loaded(/file changed/));
    writeFileSync(inventory, original.replace("hostname: vm-a", "hostname: vm-a-written"));
    await inPlace;
    expect(await hostnameOfA(server)).toBe("vm-a-written");
    const renamed = server.waitForNext(loaded(/file changed/));
    replaceFile(inventory, original.replace("hostname: vm-a", "hostname: vm-a-renamed-over"));
    await renamed;
    expect(await hostnameOfA(server)).toBe("vm-a-renamed-over");
  });

  it("rejects an invalid inventory with its problems logged and keeps serving the last good one", async () => {
    const inventory = setup("bad");
    const stateDir = join(work.path, "state");
    server = await ServerProcess.start(["--inventory", inventory, "--state-dir", stateDir, "--no-watch"]);
    const seed = guestlink("seed-url", inventory, "--vm", VM_A.name, "--state-dir", stateDir, "--url", server.url).stdout.trim().replace(/^.*s=/, "");
    const before = await request(server.port, "/openstack/latest/user_data", { from: VM_A.address });
    // Two problems: a second VM takes vm-a's address on its network, and a typo in a field name.
    writeFileSync(inventory, original.replace("address: 127.0.0.43", "address: 127.0.0.42").replace("hostname: vm-b", "hostnme: vm-b"));
    const rejected = server.waitForNext((l) => l.event === "inventory.rejected");
    server.signal("SIGHUP");
    const line = await rejected;
    const issues = line.issues as string[];
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) expect(issue).toMatch(new RegExp(`^${inventory}:\\d+:\\d+: .+ \\[[A-Z_]+\\]$`));
    expect(issues.join("\n")).toMatch(/UNKNOWN_FIELD/);
    expect(line.serving).toBe(server.logs.find((l) => l.event === "inventory.loaded")!.revision);
    // Still the old revision, bytes and all, on every family.
    const after = await request(server.port, "/openstack/latest/user_data", { from: VM_A.address });
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
    expect((await request(server.port, "/latest/meta-data/instance-id", { from: "127.0.0.43" })).text).toBe("00000000-0000-4000-8000-00000000000b");
    expect((await fetch(`${seed}meta-data`)).status).toBe(200);
    // Broken YAML is rejected the same way.
    writeFileSync(inventory, "vms: [\n");
    const syntax = server.waitForNext((l) => l.event === "inventory.rejected");
    server.signal("SIGHUP");
    expect(((await syntax).issues as string[]).join("\n")).toMatch(/YAML_SYNTAX/);
    expect((await request(server.port, "/openstack/latest/user_data", { from: VM_A.address })).body).toEqual(before.body);
    // Fixed again: loaded, and the seed token did not change across all this.
    writeFileSync(inventory, original.replace("hostname: vm-a", "hostname: vm-a-fixed"));
    const fixed = server.waitForNext(loaded(/SIGHUP/));
    server.signal("SIGHUP");
    await fixed;
    expect(await (await fetch(`${seed}meta-data`)).text()).toMatch(/local-hostname: vm-a-fixed/);
  });

  it("requests running across many reloads all succeed and each sees one whole revision", async () => {
    const inventory = setup("storm");
    server = await ServerProcess.start(["--inventory", inventory, "--state-dir", join(work.path, "state"), "--no-watch"]);
    const versions = ["vm-a", "vm-a-flip"];
    const seen = new Set<string>();
    let failures = 0;
    let stop = false;
    const hammer = async () => {
      while (!stop) {
        const res = await request(server!.port, "/openstack/latest/meta_data.json", { from: VM_A.address });
        if (res.status !== 200) { failures++; continue; }
        const doc = JSON.parse(res.text) as { hostname: string; uuid: string };
        expect(doc.uuid).toBe(VM_A.id);
        seen.add(doc.hostname);
      }
    };
    const clients = Array.from({ length: 8 }, hammer);
    for (let i = 1; i <= 10; i++) {
      writeFileSync(inventory, original.replace("hostname: vm-a", `hostname: ${versions[i % 2]}`));
      const next = server.waitForNext((l) => l.event === "inventory.loaded" || l.event === "inventory.unchanged");
      server.signal("SIGHUP");
      await next;
      await request(server.port, "/openstack/latest/meta_data.json", { from: VM_A.address });
    }
    stop = true;
    await Promise.all(clients);
    expect(failures).toBe(0);
    expect([...seen].sort()).toEqual(versions.sort());
  });

  describe("a file written in place with a pause half-way", () => {
    // The part before vm-b is a valid one-VM inventory: publishing it would take vm-b (and the
    // others) off the air until the writer carries on.
    const full = original.replace("hostname: vm-b", "hostname: vm-b-rewritten");
    const cut = full.indexOf("  - id: 00000000-0000-4000-8000-00000000000b");

    const observe = async (s: ServerProcess) => ({
      vmB: (await request(s.port, "/latest/meta-data/instance-id", { from: VM_B.address })).status,
      revision: await servedRevision(s),
    });

    async function expectOnlyWholeRevisions(s: ServerProcess, seen: Array<{ vmB: number; revision: string }>, before: string) {
      const partial = await revisionOf("partial", full.slice(0, cut));
      const whole = await revisionOf("whole", full);
      expect(seen.length).toBeGreaterThan(3);
      expect(seen.filter((o) => o.vmB !== 200)).toEqual([]);
      expect(seen.filter((o) => o.revision !== before)).toEqual([]);
      // Once the writer is done, the whole new file is published, and nothing else ever was.
      await s.waitFor((l) => l.event === "inventory.loaded" && l.revision === whole, 10_000);
      expect(s.logs.filter((l) => l.event === "inventory.loaded").map((l) => l.revision)).toEqual([before, whole]);
      expect(s.logs.some((l) => l.revision === partial)).toBe(false);
      expect(await servedRevision(s)).toBe(whole);
      expect((await request(s.port, "/latest/meta-data/hostname", { from: VM_B.address })).text).toBe("vm-b-rewritten");
    }

    it("is not published while the writer pauses (file watching, default settings)", async () => {
      const inventory = setup("paused-watch");
      server = await ServerProcess.start(["--inventory", inventory, "--state-dir", join(work.path, "state")]);
      const before = await servedRevision(server);
      const s = server;
      const seen = await pausedInPlaceWrite(inventory, full, cut, 700, () => observe(s));
      await expectOnlyWholeRevisions(server, seen, before);
    });

    it("is not published by a SIGHUP sent while the writer pauses", async () => {
      const inventory = setup("paused-hup");
      server = await ServerProcess.start(["--inventory", inventory, "--state-dir", join(work.path, "state"), "--no-watch"]);
      const before = await servedRevision(server);
      const s = server;
      let signalled = false;
      const seen = await pausedInPlaceWrite(inventory, full, cut, 700, async () => {
        if (!signalled) { s.signal("SIGHUP"); signalled = true; }
        await new Promise((r) => setTimeout(r, 20));
        return observe(s);
      });
      // The reload the signal started waits for the file to settle, then loads the whole file.
      await expectOnlyWholeRevisions(server, seen, before);
      expect(server.logs.find((l) => l.event === "inventory.loaded" && l.revision !== before)?.reason).toMatch(/SIGHUP/);
    });
  });
});
