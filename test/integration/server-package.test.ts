// The server's .deb as dpkg-deb sees it: control fields, conffiles, maintainer scripts, the
// file list with modes, the hardened units of the metadata and DHCP services (and every system
// call each packaged program makes, traced, against its unit's filter), a default configuration
// the server accepts, and a packaged program that runs from the extracted tree.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ServeConfigSchema } from "../../metadata-server/cli/serve.ts";
import { requirePeer, run, tempDir } from "../helpers/peers.ts";
import { NetnsPair } from "../helpers/netns.ts";
import { freePort, httpGet, waitFor } from "../helpers/processes.ts";

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
    expect(readFileSync(join(control, "conffiles"), "utf8").split("\n").filter(Boolean).sort()).toEqual(["/etc/default/guestlink-dhcp", "/etc/guestlink/inventory.yaml", "/etc/guestlink/server.yaml"]);
    // The DHCP service needs interfaces named before it can run: installing does not enable it.
    expect(readFileSync(join(control, "postinst"), "utf8")).not.toMatch(/enable guestlink-dhcp/);
    expect(readFileSync(join(control, "prerm"), "utf8")).toMatch(/guestlink-metadata\.service guestlink-dhcp\.service/);
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
    expect(entry("lib/systemd/system/guestlink-dhcp.service")).toMatch(/^-rw-r--r-- root\/root /);
    expect(entry("etc/default/guestlink-dhcp")).toMatch(/^-rw-r--r-- root\/root /);
    expect(entry("usr/share/doc/guestlink-server/dhcp.md")).toBeDefined();
    expect(entry("etc/guestlink/server.yaml")).toMatch(/^-rw-r--r-- root\/root /);
    expect(entry("etc/guestlink/inventory.yaml")).toMatch(/^-rw-r--r-- root\/root /);
    expect(entry("usr/lib/guestlink/node_modules/koffi/package.json")).toBeDefined();
    expect(entry("usr/share/guestlink/cloud-init-templates/basic.yaml")).toBeDefined();
    expect(list).not.toMatch(/\.guestlink-state|server-secret/);
    expect(list.split("\n").filter((l) => l && !/ root\/root /.test(l))).toEqual([]);
  });

  it("confines both services alike: their own user, a read-only system, the same system-call filter", () => {
    // One list for both units, so that a hardening added to one and forgotten in the other fails here.
    const sharedConfinement: Record<string, string[]> = {
      User: ["guestlink"], Group: ["guestlink"], StateDirectoryMode: ["0700"], UMask: ["0077"],
      NoNewPrivileges: ["yes"], ProtectSystem: ["strict"], ReadOnlyPaths: ["/etc/guestlink"], ProtectHome: ["yes"],
      PrivateTmp: ["yes"], PrivateDevices: ["yes"], ProtectKernelTunables: ["yes"], ProtectKernelModules: ["yes"],
      ProtectKernelLogs: ["yes"], ProtectControlGroups: ["yes"], ProtectClock: ["yes"], ProtectHostname: ["yes"],
      ProtectProc: ["invisible"], ProcSubset: ["pid"], RestrictNamespaces: ["yes"], RestrictRealtime: ["yes"],
      RestrictSUIDSGID: ["yes"], LockPersonality: ["yes"], RemoveIPC: ["yes"], SystemCallArchitectures: ["native"],
      SystemCallFilter: ["@system-service", "@pkey", "~@privileged"], SystemCallErrorNumber: ["EPERM"], LimitNOFILE: ["65536"],
    };
    for (const unit of ["guestlink-metadata.service", "guestlink-dhcp.service"]) {
      const directives = unitDirectives(unit);
      for (const [key, values] of Object.entries(sharedConfinement)) expect(directives.get(key), `${unit} ${key}`).toEqual(values);
      expect(directives.get("DynamicUser"), unit).toBeUndefined();
    }
  });

  it("ships a metadata unit with no capability and a private state directory", () => {
    const directives = unitDirectives("guestlink-metadata.service");
    const one = (k: string) => directives.get(k)?.at(-1);
    expect(one("StateDirectory")).toBe("guestlink");
    expect(one("CapabilityBoundingSet")).toBe("");
    expect(one("RestrictAddressFamilies")).toBe("AF_INET AF_INET6 AF_UNIX");
    expect(one("ExecStart")).toBe("/usr/bin/guestlink serve --config /etc/guestlink/server.yaml");
    expect(one("ExecReload")).toMatch(/kill -HUP \$MAINPID/);
    expect(readFileSync(join(root, "usr/share/doc/guestlink-server/examples/low-port.conf"), "utf8")).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  });

  it("ships a DHCP unit with the two capabilities it needs, not restarted on a usage error", () => {
    const directives = unitDirectives("guestlink-dhcp.service");
    const one = (k: string) => directives.get(k)?.at(-1);
    expect(one("ExecStart")).toBe("/usr/bin/guestlink dhcp --inventory /etc/guestlink/inventory.yaml --lease-file /var/lib/guestlink-dhcp/leases.json $GUESTLINK_DHCP_ARGS");
    expect(one("EnvironmentFile")).toBe("/etc/default/guestlink-dhcp");
    expect(one("AmbientCapabilities")).toBe("CAP_NET_BIND_SERVICE CAP_NET_RAW");
    expect(one("CapabilityBoundingSet")).toBe("CAP_NET_BIND_SERVICE CAP_NET_RAW");
    expect(one("RestrictAddressFamilies")).toBe("AF_INET AF_INET6 AF_NETLINK AF_UNIX");
    expect(one("StateDirectory")).toBe("guestlink-dhcp");
    expect(one("RestartPreventExitStatus")).toBe("2");
    expect(readFileSync(join(root, "etc/default/guestlink-dhcp"), "utf8")).toMatch(/^GUESTLINK_DHCP_ARGS=""$/m);
    // The packaged default names no interface: the program must then exit with that status 2.
    const r = spawnSync(process.execPath, [join(root, "usr/lib/guestlink/bin/guestlink"), "dhcp", "--inventory", join(root, "etc/guestlink/inventory.yaml")], { encoding: "utf8", cwd: work.path });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/at least one --interface/);
  });

  // Each unit's SystemCallFilter and RestrictAddressFamilies must refuse nothing the program needs,
  // which the other tests cannot see: they run it unconfined. strace records what the packaged
  // program really calls over a life (start, work, SIGHUP, SIGTERM); systemd-analyze expands the
  // filter as systemd does. Nothing may fall outside either. (V8's pkey_alloc once did.)
  it("lets the packaged metadata server make every system call of its life: start, requests, reload, stop", async () => {
    const port = await freePort();
    const used = await tracedLife(["serve", "--inventory", join(root, "etc/guestlink/inventory.yaml"), "--templates", join(root, "usr/share/guestlink/cloud-init-templates"),
      "--listen", `127.0.0.1:${port}`, "--state-dir", join(work.path, "state")], async () => {
      await waitFor("the traced server", async () => ((await httpGet(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined), 30_000, 200);
      for (const path of ["", "v1/vms", "v1/mtu", "v1/console/state"]) expect((await httpGet(`http://127.0.0.1:${port}/${path}`)).status, path).toBe(200);
    });
    expect(outsideUnit("guestlink-metadata.service", used)).toEqual({ calls: [], families: [] });
  });

  it("lets the packaged DHCP server make every system call of its life: start, a lease and an RA for a real client, reload, stop", async () => {
    const pair = await new NetnsPair().create({ guestMac: "52:54:00:10:00:02", hostAddresses: ["192.0.2.1/24"] });
    const defaultRoute6 = () => pair.inGuest("ip", ["-6", "route", "show", "default", "dev", pair.guestIf]);
    try {
      const used = await tracedLife(["dhcp", "--inventory", join(root, "etc/guestlink/inventory.yaml"), "--interface", `${pair.hostIf}=mgmt`,
        "--lease-file", join(work.path, "leases.json")], async () => {
        const udhcpc = async () => {
          const r = await pair.inGuest("udhcpc", ["-n", "-q", "-f", "-t", "10", "-T", "1", "-i", pair.guestIf, "-s", "/bin/true"], { timeoutMs: 30_000 });
          return /lease of (\S+) obtained/.exec(r.stdout + r.stderr)?.[1];
        };
        // db-1's reservation in the example's mgmt network, then (another MAC) a dynamic lease from
        // its range, which is written to the lease file before the ACK leaves.
        expect(await udhcpc()).toBe("192.0.2.20");
        await pair.inGuest("ip", ["link", "set", pair.guestIf, "address", "02:00:00:00:77:01"]);
        expect(await udhcpc()).toMatch(/^192\.0\.2\.(2[0-4]\d|250)$/);
        expect(readFileSync(join(work.path, "leases.json"), "utf8")).toContain("02:00:00:00:77:01");
        // The RA, from the raw ICMPv6 socket: the client's kernel takes an address in mgmt's prefix.
        await waitFor("a SLAAC address from the RA", async () => {
          const r = await pair.inGuest("ip", ["-6", "-o", "addr", "show", "dev", pair.guestIf, "scope", "global"]);
          return /inet6 2001:db8:10:/.test(r.stdout) ? true : undefined;
        }, 40_000, 500);
        expect((await defaultRoute6()).stdout).toMatch(/^default via fe80:/);
      }, ["ip", "netns", "exec", pair.hostNs]);
      // SIGTERM (systemctl stop) sent a last RA with router lifetime 0: the kernel dropped the router.
      expect((await defaultRoute6()).stdout.trim()).toBe("");
      expect(outsideUnit("guestlink-dhcp.service", used)).toEqual({ calls: [], families: [] });
      expect(used.families.has("AF_INET6")).toBe(true); // the raw ICMPv6 socket of the RAs was made
    } finally {
      await pair.cleanup();
    }
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

function unitDirectives(unit: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const line of readFileSync(join(root, "lib/systemd/system", unit), "utf8").split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
  }
  return directives;
}

interface TracedUse { calls: Set<string>; families: Set<string> }

/**
 * Runs the packaged program under strace (behind `prefix`, e.g. `ip netns exec NS`), lets
 * `exercise` work it, then sends SIGHUP and SIGTERM; returns the system calls and socket address
 * families it used. It must exit 0.
 */
async function tracedLife(args: string[], exercise: () => Promise<void>, prefix: string[] = []): Promise<TracedUse> {
  const trace = join(work.path, `${args[0]}-${Date.now()}.strace`);
  const program = join(root, "usr/lib/guestlink/bin/guestlink");
  const argv = [...prefix, requirePeer("strace"), "-f", "-qq", "-o", trace, process.execPath, program, ...args];
  const tracer = spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => tracer.once("exit", resolve));
  try {
    await exercise();
    // The program is strace's one child (`ip netns exec` execs strace): signals go to it, not to strace.
    const server = Number(readFileSync(`/proc/${tracer.pid}/task/${tracer.pid}/children`, "utf8").trim().split(/\s+/)[0]);
    process.kill(server, "SIGHUP");
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(server, "SIGTERM");
    expect(await exited).toBe(0);
  } finally {
    if (tracer.exitCode === null) tracer.kill("SIGKILL");
  }
  const text = readFileSync(trace, "utf8");
  const calls = new Set([...text.matchAll(/^\d+\s+([a-z0-9_]+)\(/gm)].map((m) => m[1]!));
  const families = new Set([...text.matchAll(/^\d+\s+socket\((AF_[A-Z0-9]+)/gm)].map((m) => m[1]!));
  expect(calls.has("epoll_wait") || calls.has("epoll_pwait")).toBe(true); // a real trace of an event loop
  return { calls, families };
}

/** What a traced life used that the unit would refuse: system calls and socket address families. */
function outsideUnit(unit: string, used: TracedUse): { calls: string[]; families: string[] } {
  const directives = unitDirectives(unit);
  const allowed = new Set<string>();
  for (const line of directives.get("SystemCallFilter") ?? []) {
    const deny = line.startsWith("~");
    for (const name of line.replace(/^~/, "").split(/\s+/).filter(Boolean)) {
      for (const call of syscallSet(name)) deny ? allowed.delete(call) : allowed.add(call);
    }
  }
  expect(allowed.has("read") && !allowed.has("setuid")).toBe(true); // the groups were expanded, the denial applied
  const families = new Set((directives.get("RestrictAddressFamilies")?.at(-1) ?? "").split(/\s+/));
  return { calls: [...used.calls].filter((c) => !allowed.has(c)).sort(), families: [...used.families].filter((f) => !families.has(f)).sort() };
}

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
