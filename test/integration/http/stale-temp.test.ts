// Temporary files of a write cut short by a crash (`.NAME.<pid>.tmp`, the pid of the writer) are
// removed when the real server starts, each removal logged; one of a live process is left alone.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers/peers.ts";
import { FIXTURE, ServerProcess } from "./server-process.ts";

const work = tempDir("stale-temp");
let server: ServerProcess | undefined;

afterEach(async () => {
  if (server) expect(await server.stop()).toBe(0);
  server = undefined;
});
afterAll(() => work.remove());

/** The pid of a process that has exited (so, dead, until the kernel hands the number out again). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  return r.pid!;
}

describe("stale temporary files in the state directory", () => {
  it("are removed at start-up and logged; a live process's is left alone", async () => {
    const stateDir = join(work.path, "state");
    mkdirSync(stateDir, { recursive: true });
    const dead = deadPid();
    const stale = [join(stateDir, `.guests.json.${dead}.tmp`), join(stateDir, `.server-secret.${dead}.tmp`)];
    writeFileSync(stale[0]!, "x".repeat(4096));
    writeFileSync(stale[1]!, "half a secret");
    const live = join(stateDir, `.guests.json.${process.pid}.tmp`);
    writeFileSync(live, "being written");
    const unrelated = join(stateDir, `.guests.json.${dead}.tmp.keep`);
    writeFileSync(unrelated, "not our naming");

    server = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", stateDir, "--no-watch"]);
    for (const path of stale) expect(existsSync(path), path).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(unrelated)).toBe(true);
    const logged = server.logs.filter((l) => l.event === "state.stale_temp_removed");
    expect(logged.map((l) => [l.path, l.pid]).sort()).toEqual(stale.map((p) => [p, dead]).sort());
    expect(logged.find((l) => l.path === stale[0])?.bytes).toBe(4096);
  });
});
