// The server's .deb as dpkg-deb sees it: control fields, conffiles, maintainer scripts, the
// file list with modes, a hardened unit, a default configuration the server accepts, and a
// packaged program that runs from the extracted tree with its runtime dependency.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ServeConfigSchema } from "../../../metadata-server/cli/serve.ts";
import { requirePeer, run, tempDir } from "../../helpers/peers.ts";
import { freePort, httpGet, waitFor } from "../../helpers/processes.ts";

const work = tempDir("deb");
let deb: string;
let root: string;

beforeAll(() => {
  const r = spawnSync(process.execPath, ["packaging/server/build-deb.mjs", "--out", work.path], { encoding: "utf8", timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  deb = r.stdout.trim();
  root = join(work.path, "root");
  expect(run("dpkg-deb", ["-x", deb, root]).status).toBe(0);
});
afterAll(() => work.remove());

describe("guestlink-server .deb", () => {
  it("has the control fields, conffiles and maintainer scripts", () => {
    const info = run("dpkg-deb", ["-I", deb]);
    expect(info.status).toBe(0);
    expect(info.stdout).toMatch(/^ Package: guestlink-server$/m);
    expect(info.stdout).toMatch(/^ Depends: nodejs \(>= 20\), adduser$/m);
    expect(info.stdout).toMatch(/^ Architecture: \S+$/m);
    for (const script of ["postinst", "prerm", "postrm", "conffiles"]) expect(info.stdout).toContain(script);
    const conffiles = run("dpkg-deb", ["-f", deb, "Package"]).stdout.trim();
    expect(conffiles).toBe("guestlink-server");
    const control = join(work.path, "control");
    expect(run("dpkg-deb", ["-e", deb, control]).status).toBe(0);
    expect(readFileSync(join(control, "conffiles"), "utf8").split("\n").filter(Boolean).sort()).toEqual(["/etc/guestlink/inventory.yaml", "/etc/guestlink/server.yaml"]);
    // A dedicated system user, created once.
    expect(readFileSync(join(control, "postinst"), "utf8")).toMatch(/adduser --system --group .* guestlink/);
    for (const script of ["postinst", "prerm", "postrm"]) expect(run("/bin/sh", ["-n", join(control, script)]).status).toBe(0);
  });

  it("lists the program, the unit, the configuration and templates, root-owned with sane modes", () => {
    const list = run("dpkg-deb", ["-c", deb]).stdout;
    const entry = (path: string) => list.split("\n").find((l) => l.endsWith(` ./${path}`) || l.includes(` ./${path} -> `));
    expect(entry("usr/lib/guestlink/bin/guestlink")).toMatch(/^-rwxr-xr-x root\/root /);
    expect(entry("usr/bin/guestlink")).toMatch(/^lrwxrwxrwx root\/root .* -> \.\.\/lib\/guestlink\/bin\/guestlink$/);
    expect(entry("lib/systemd/system/guestlink-metadata.service")).toMatch(/^-rw-r--r-- root\/root /);
    expect(entry("etc/guestlink/server.yaml")).toMatch(/^-rw-r--r-- root\/root /);
    expect(entry("etc/guestlink/inventory.yaml")).toMatch(/^-rw-r--r-- root\/root /);
    expect(entry("usr/lib/guestlink/node_modules/koffi/package.json")).toBeDefined();
    expect(entry("usr/share/guestlink/cloud-init-templates/basic.yaml")).toBeDefined();
    expect(list).not.toMatch(/\.guestlink-state|server-secret/);
    expect(list.split("\n").filter((l) => l && !/ root\/root /.test(l))).toEqual([]);
  });

  it("ships a hardened unit that runs as its own user with a private state directory", () => {
    const unit = readFileSync(join(root, "lib/systemd/system/guestlink-metadata.service"), "utf8");
    const directives = new Map<string, string[]>();
    for (const line of unit.split("\n")) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
    }
    const one = (k: string) => directives.get(k)?.at(-1);
    expect(one("User")).toBe("guestlink");
    expect(one("DynamicUser")).toBeUndefined();
    expect(one("StateDirectory")).toBe("guestlink");
    expect(one("StateDirectoryMode")).toBe("0700");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("ProtectHome")).toBe("yes");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("PrivateTmp")).toBe("yes");
    expect(one("CapabilityBoundingSet")).toBe("");
    expect(one("RestrictAddressFamilies")).toBe("AF_INET AF_INET6 AF_UNIX");
    expect(directives.get("SystemCallFilter")).toEqual(["@system-service", "@pkey", "~@privileged"]);
    expect(one("SystemCallErrorNumber")).toBe("EPERM");
    expect(one("ExecStart")).toBe("/usr/bin/guestlink serve --config /etc/guestlink/server.yaml");
    expect(one("ExecReload")).toMatch(/kill -HUP \$MAINPID/);
    expect(readFileSync(join(root, "usr/share/doc/guestlink-server/examples/low-port.conf"), "utf8")).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  });

  it("lets the packaged server make every system call of its life: start, requests, reload, stop", async () => {
    // The unit's SystemCallFilter kills nothing that works only because the tests run unconfined:
    // strace records what the packaged program really calls, systemd-analyze expands the unit's
    // filter as systemd does, and nothing may be outside it. (V8's pkey_alloc once was.)
    requirePeer("strace");
    const unit = readFileSync(join(root, "lib/systemd/system/guestlink-metadata.service"), "utf8");
    const allowed = new Set<string>();
    for (const m of unit.matchAll(/^SystemCallFilter=(.*)$/gm)) {
      const deny = m[1]!.startsWith("~");
      for (const name of m[1]!.replace(/^~/, "").split(/\s+/).filter(Boolean)) {
        for (const call of syscallSet(name)) deny ? allowed.delete(call) : allowed.add(call);
      }
    }
    expect(allowed.has("read") && !allowed.has("setuid")).toBe(true); // the groups were expanded, the denial applied

    const port = await freePort();
    const trace = join(work.path, "serve.strace");
    const program = join(root, "usr/lib/guestlink/bin/guestlink");
    const tracer = spawn(requirePeer("strace"), ["-f", "-qq", "-o", trace, process.execPath, program, "serve",
      "--inventory", join(root, "etc/guestlink/inventory.yaml"), "--templates", join(root, "usr/share/guestlink/cloud-init-templates"),
      "--listen", `127.0.0.1:${port}`, "--state-dir", join(work.path, "state")], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => tracer.once("exit", resolve));
    try {
      await waitFor("the traced server", async () => ((await httpGet(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined), 30_000, 200);
      for (const path of ["", "v1/vms", "v1/mtu", "v1/console/state"]) expect((await httpGet(`http://127.0.0.1:${port}/${path}`)).status, path).toBe(200);
      // The server is strace's one child: signals go to it, not to strace.
      const server = Number(readFileSync(`/proc/${tracer.pid}/task/${tracer.pid}/children`, "utf8").trim().split(/\s+/)[0]);
      process.kill(server, "SIGHUP");
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(server, "SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (tracer.exitCode === null) tracer.kill("SIGKILL");
    }
    const calls = new Set<string>();
    for (const m of readFileSync(trace, "utf8").matchAll(/^\d+\s+([a-z0-9_]+)\(/gm)) calls.add(m[1]!);
    expect(calls.has("epoll_wait") || calls.has("epoll_pwait")).toBe(true); // the trace is a real one
    expect([...calls].filter((c) => !allowed.has(c)).sort()).toEqual([]);
  });

  it("ships a default configuration the server accepts, listening on loopback only", () => {
    const config = ServeConfigSchema.parse(parseYaml(readFileSync(join(root, "etc/guestlink/server.yaml"), "utf8")));
    expect(config.inventory).toBe("/etc/guestlink/inventory.yaml");
    expect(config.listen).toEqual([{ host: "127.0.0.1", port: 8775 }]);
    expect(config.trustedProxies).toEqual([]);
  });

  it("runs from the extracted tree: the packaged program validates the packaged inventory", () => {
    const program = join(root, "usr/lib/guestlink/bin/guestlink");
    const help = spawnSync(process.execPath, [program, "serve", "--help"], { encoding: "utf8", cwd: work.path });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: guestlink serve /);
    const r = spawnSync(process.execPath, [program, "validate", join(root, "etc/guestlink/inventory.yaml"), "--templates", join(root, "usr/share/guestlink/cloud-init-templates")], { encoding: "utf8", cwd: work.path });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(root, "usr/lib/guestlink/node_modules")).sort()).toEqual(["@koromix", "koffi"]);
  });
});

/** A system call name, or a @group expanded the way systemd does it (groups nest). */
function syscallSet(name: string, seen = new Set<string>()): Set<string> {
  if (!name.startsWith("@")) return new Set([name]);
  const out = new Set<string>();
  if (seen.has(name)) return out;
  seen.add(name);
  const r = run("systemd-analyze", ["syscall-filter", name]);
  expect(r.status, r.stderr).toBe(0);
  // The first line repeats the group's name; then comments and one name per line, indented.
  for (const line of r.stdout.split("\n").slice(1)) {
    const t = line.trim();
    if (!t || t.startsWith("#")) continue;
    for (const call of syscallSet(t, seen)) out.add(call);
  }
  return out;
}
