// Commands that change the machine, run against a stub executor and temp directories.
import { describe, it, expect, beforeEach, afterEach } from "vitest";
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync, existsSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRegistry } from "../../../agent/commands/index.ts";
import { Dispatcher } from "../../../agent/dispatch/dispatcher.ts";
import { FsRoot } from "../../../agent/collectors/fsroot.ts";
import { DEFAULT_AGENT_LIMITS } from "../../../agent/commands/env.ts";
import type { AgentEnv, Executor, RunResult } from "../../../agent/commands/env.ts";
import { JsonMessageStream, KUBEVIRT_REQUIRED_COMMANDS } from "../../../agent/protocol/index.ts";

interface Call { file: string; args: readonly string[]; input?: string }

class StubExecutor implements Executor {
  calls: Call[] = [];
  missing = new Set<string>();
  result: (c: Call) => Partial<RunResult> = () => ({});
  which(file: string): string | undefined {
    return this.missing.has(file) ? undefined : `/usr/sbin/${file}`;
  }
  async run(file: string, args: readonly string[], opts: { input?: Buffer | string } = {}): Promise<RunResult> {
    const call: Call = { file, args, ...(opts.input !== undefined ? { input: opts.input.toString() } : {}) };
    this.calls.push(call);
    return { status: 0, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), ...this.result(call) };
  }
}

let dir = "";
let exec: StubExecutor;
let env: AgentEnv;
let dispatcher: Dispatcher<AgentEnv>;

function setup(limits = DEFAULT_AGENT_LIMITS): void {
  exec = new StubExecutor();
  env = {
    fs: new FsRoot(join(dir, "root")), exec, clock: { nowNs: () => 1_700_000_000_123_456_789n }, limits,
    stateDir: join(dir, "state"), osReleasePath: join(dir, "root/etc/os-release"), version: "7.2.0",
  };
  dispatcher = new Dispatcher(buildRegistry(), env);
  env.dispatcher = dispatcher;
}

async function call(req: string): Promise<string | null> {
  const [m] = new JsonMessageStream().feed(Buffer.from(req));
  return (await dispatcher.dispatch(m!)).line;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "guestlink-cmd-"));
  mkdirSync(join(dir, "state"));
  mkdirSync(join(dir, "root/etc"), { recursive: true });
  mkdirSync(join(dir, "root/proc/self"), { recursive: true });
  mkdirSync(join(dir, "root/home/alice"), { recursive: true });
  writeFileSync(join(dir, "root/etc/passwd"), `root:x:0:0:root:/root:/bin/bash\nalice:x:${process.getuid?.() ?? 1000}:${process.getgid?.() ?? 1000}::/home/alice:/bin/sh\n`);
  writeFileSync(join(dir, "root/proc/self/mountinfo"),
    "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n27 26 254:1 / /data rw - xfs /dev/vdb rw\n21 26 0:20 / /proc rw - proc proc rw\n");
  setup();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("guest-suspend-*: systemd, then pm-utils, then /sys/power/state, as qemu-ga 7.2", () => {
  const ERR = (desc: string) => `{"error": {"class": "GenericError", "desc": "${desc}"}}`;
  /** systemctl status exit code for the unit, and each program's exit status; absent programs are missing. */
  function helpers(status: Record<string, number>): void {
    for (const p of ["systemctl", "pm-is-supported", "pm-hibernate", "pm-suspend", "pm-suspend-hybrid"]) {
      if (!Object.keys(status).some((k) => k.split(" ")[0] === p)) exec.missing.add(p);
    }
    exec.result = (c) => ({ status: status[[c.file.split("/").pop(), ...c.args].join(" ")] ?? status[c.file.split("/").pop()!] ?? 0 });
  }
  const sysPowerState = (states: string) => {
    mkdirSync(join(dir, "root/sys/power"), { recursive: true });
    writeFileSync(join(dir, "root/sys/power/state"), `${states}\n`);
  };
  const ran = () => exec.calls.map((c) => [c.file.split("/").pop(), ...c.args].join(" "));

  it("suspends through systemd when it knows the unit (status 1-3), with no answer", async () => {
    helpers({ "systemctl status systemd-suspend": 3, "systemctl suspend": 0 });
    expect(await call('{"execute":"guest-suspend-ram"}')).toBeNull();
    expect(ran()).toEqual(["systemctl status systemd-suspend", "systemctl suspend"]);
  });

  it("takes status 4 (no such unit) and 0 as systemd not supporting the mode, and goes on to pm-utils", async () => {
    for (const unitStatus of [4, 0]) {
      setup();
      helpers({ "systemctl status systemd-hibernate": unitStatus, "pm-is-supported --hibernate": 0, "pm-hibernate": 0 });
      expect(await call('{"execute":"guest-suspend-disk"}')).toBeNull();
      expect(ran()).toEqual(["systemctl status systemd-hibernate", "pm-is-supported --hibernate", "pm-hibernate"]);
    }
  });

  it("falls back to writing /sys/power/state when systemd fails and pm-utils is absent", async () => {
    helpers({ "systemctl status systemd-suspend": 3, "systemctl suspend": 1 });
    sysPowerState("freeze mem disk");
    expect(await call('{"execute":"guest-suspend-ram"}')).toBeNull();
    expect(readFileSync(join(dir, "root/sys/power/state"), "utf8")).toBe("mem");
  });

  it("answers qemu-ga's texts: not supported, and a failing /sys/power/state write", async () => {
    helpers({});
    sysPowerState("freeze");
    expect(await call('{"execute":"guest-suspend-disk"}')).toBe(ERR("the requested suspend mode is not supported by the guest"));
    // A state file that offers "mem" but refuses writes: /proc/cgroups lists the memory
    // controller, and writing it fails with EIO even for root.
    setup();
    helpers({});
    rmSync(join(dir, "root/sys/power/state"));
    symlinkSync("/proc/cgroups", join(dir, "root/sys/power/state"));
    expect(readFileSync(join(dir, "root/sys/power/state"), "utf8")).toContain("mem");
    expect(await call('{"execute":"guest-suspend-ram"}')).toBe(ERR("child process has failed to suspend"));
  });

  it("answers hybrid's quirk: when systemd claims it and fails, the error is /sys/power/state's 'unknown guest suspend mode'", async () => {
    helpers({ "systemctl status systemd-hybrid-sleep": 3, "systemctl hybrid-sleep": 1 });
    expect(await call('{"execute":"guest-suspend-hybrid"}')).toBe(ERR("unknown guest suspend mode"));
    setup();
    helpers({});
    expect(await call('{"execute":"guest-suspend-hybrid"}')).toBe(ERR("the requested suspend mode is not supported by the guest"));
  });

  it("answers the last failure where qemu-ga would answer nothing (a documented difference)", async () => {
    helpers({ "systemctl status systemd-suspend": 3, "systemctl suspend": 5 });
    sysPowerState("freeze disk");
    expect(await call('{"execute":"guest-suspend-ram"}')).toBe(ERR("the helper program 'systemctl suspend' returned an unexpected exit status code (5)"));
  });
});

describe("guest-info", () => {
  it("lists KubeVirt's ten required commands as enabled", async () => {
    const r = JSON.parse((await call('{"execute":"guest-info"}'))!) as { return: { supported_commands: { name: string; enabled: boolean }[] } };
    const enabled = new Set(r.return.supported_commands.filter((c) => c.enabled).map((c) => c.name));
    for (const name of KUBEVIRT_REQUIRED_COMMANDS) expect(enabled.has(name), name).toBe(true);
  });
});

describe("guest-shutdown", () => {
  it("answers nothing on success and asks shutdown to power down", async () => {
    expect(await call('{"execute":"guest-shutdown"}')).toBeNull();
    expect(exec.calls).toEqual([{ file: "/usr/sbin/shutdown", args: ["-P", "+0", "hypervisor initiated shutdown"] }]);
  });
  it("maps reboot and halt", async () => {
    await call('{"execute":"guest-shutdown","arguments":{"mode":"reboot"}}');
    await call('{"execute":"guest-shutdown","arguments":{"mode":"halt"}}');
    expect(exec.calls.map((c) => c.args[0])).toEqual(["-r", "-H"]);
  });
  it("reports a failing helper, and an absent one as unsupported", async () => {
    exec.result = () => ({ status: 1 });
    expect(await call('{"execute":"guest-shutdown"}')).toContain("child process has failed to shutdown");
    exec.missing.add("shutdown");
    expect(await call('{"execute":"guest-shutdown"}')).toBe('{"error": {"class": "GenericError", "desc": "this feature or command is not currently supported"}}');
  });
  it("says a helper killed by a signal terminated abnormally, as qemu-ga does (!WIFEXITED)", async () => {
    exec.result = () => ({ status: null, signal: "SIGKILL" });
    expect(await call('{"execute":"guest-shutdown"}')).toBe('{"error": {"class": "GenericError", "desc": "child process has terminated abnormally"}}');
  });
});

describe("fsfreeze", () => {
  it("freezes every block-device mount, disables other commands, then thaws", async () => {
    expect(await call('{"execute":"guest-fsfreeze-freeze"}')).toBe('{"return": 2}');
    expect(exec.calls.map((c) => c.args.join(" "))).toEqual(["-f /data", "-f /"]);
    expect(await call('{"execute":"guest-fsfreeze-status"}')).toBe('{"return": "frozen"}');
    expect(existsSync(join(dir, "state/qga.state.isfrozen"))).toBe(true);
    expect(await call('{"execute":"guest-get-osinfo"}')).toContain("has been disabled: the agent is in frozen state");
    expect(await call('{"execute":"guest-fsfreeze-thaw"}')).toBe('{"return": 2}');
    expect(await call('{"execute":"guest-fsfreeze-status"}')).toBe('{"return": "thawed"}');
    expect(existsSync(join(dir, "state/qga.state.isfrozen"))).toBe(false);
  });
  it("thaws what it froze when one mount fails", async () => {
    exec.result = (c) => (c.args.join(" ") === "-f /" ? { status: 1, stderr: Buffer.from("fsfreeze: /: Device or resource busy\n") } : {});
    expect(await call('{"execute":"guest-fsfreeze-freeze"}')).toContain("failed to freeze /: Device or resource busy");
    expect(exec.calls.map((c) => c.args.join(" "))).toEqual(["-f /data", "-f /", "-u /data"]);
    expect(await call('{"execute":"guest-fsfreeze-status"}')).toBe('{"return": "thawed"}');
  });
  it("is unsupported without util-linux fsfreeze", async () => {
    exec.missing.add("fsfreeze");
    expect(await call('{"execute":"guest-fsfreeze-freeze"}')).toContain("this feature or command is not currently supported");
  });
});

describe("guest-fstrim", () => {
  it("parses fstrim -v output per mount", async () => {
    exec.result = (c) => ({ stdout: Buffer.from(`${c.args[c.args.length - 1]}: 1 MiB (1048576 bytes) trimmed\n`) });
    expect(await call('{"execute":"guest-fstrim","arguments":{"minimum":4096}}'))
      .toBe('{"return": {"paths": [{"minimum": 4096, "path": "/", "trimmed": 1048576}, {"minimum": 4096, "path": "/data", "trimmed": 1048576}]}}');
    expect(exec.calls[0]!.args).toEqual(["-v", "-m", "4096", "/"]);
  });
});

describe("guest-set-time", () => {
  it("sets the clock then the RTC; without a time reads the RTC", async () => {
    expect(await call('{"execute":"guest-set-time","arguments":{"time":1700000000123456789}}')).toBe('{"return": {}}');
    expect(exec.calls.map((c) => [c.file, ...c.args].join(" "))).toEqual(["date -u -s @1700000000.123456789", "hwclock -w"]);
    exec.calls = [];
    await call('{"execute":"guest-set-time"}');
    expect(exec.calls.map((c) => [c.file, ...c.args].join(" "))).toEqual(["hwclock -s"]);
    expect(await call('{"execute":"guest-set-time","arguments":{"time":-1000000000000000000}}')).toContain("Invalid time");
  });
});

describe("guest-set-user-password", () => {
  it("feeds chpasswd user:password, with -e for crypted", async () => {
    const pw = Buffer.from("s3cret").toString("base64");
    expect(await call(`{"execute":"guest-set-user-password","arguments":{"username":"alice","password":"${pw}","crypted":false}}`)).toBe('{"return": {}}');
    expect(exec.calls[0]).toMatchObject({ file: "/usr/sbin/chpasswd", args: [], input: "alice:s3cret\n" });
    await call(`{"execute":"guest-set-user-password","arguments":{"username":"alice","password":"${Buffer.from("$6$x$y").toString("base64")}","crypted":true}}`);
    expect(exec.calls[1]!.args).toEqual(["-e"]);
    expect(await call('{"execute":"guest-set-user-password","arguments":{"username":"alice","password":"!!","crypted":false}}')).toContain("Base64 data contains invalid characters");
  });
  it("reports chpasswd failing, or killed by a signal, with qemu-ga's texts", async () => {
    const pw = Buffer.from("s3cret").toString("base64");
    const set = `{"execute":"guest-set-user-password","arguments":{"username":"alice","password":"${pw}","crypted":false}}`;
    exec.result = () => ({ status: 1 });
    expect(await call(set)).toContain("child process has failed to set user password");
    exec.result = () => ({ status: null, signal: "SIGSEGV" });
    expect(await call(set)).toContain("child process has terminated abnormally");
    exec.missing.add("chpasswd");
    expect(await call(set)).toBe(`{"error": {"class": "GenericError", "desc": "cannot find 'passwd' program in PATH"}}`);
  });
});

describe("ssh authorized keys", () => {
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB test@host";
  it("adds, lists and removes keys in the user's home", async () => {
    expect(await call(`{"execute":"guest-ssh-add-authorized-keys","arguments":{"username":"alice","keys":["${key}"]}}`)).toBe('{"return": {}}');
    expect(readFileSync(join(dir, "root/home/alice/.ssh/authorized_keys"), "utf8")).toBe(`${key}\n`);
    expect(await call('{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"alice"}}')).toBe(`{"return": {"keys": ["${key}"]}}`);
    expect(await call(`{"execute":"guest-ssh-remove-authorized-keys","arguments":{"username":"alice","keys":["${key}"]}}`)).toBe('{"return": {}}');
    expect(await call('{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"alice"}}')).toBe('{"return": {"keys": []}}');
  });
  it("reports a missing user like qemu-ga", async () => {
    expect(await call('{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"bob"}}')).toContain("failed to lookup user 'bob': Success");
  });
});

describe("guest-file-*", () => {
  it("starts handles at 1000 and persists the counter in the state dir", async () => {
    const f = join(dir, "f.txt");
    expect(await call(`{"execute":"guest-file-open","arguments":{"path":"${f}","mode":"w"}}`)).toBe('{"return": 1000}');
    expect(readFileSync(join(dir, "state/qga.state"), "utf8")).toBe("[global]\nfd_counter=1001\n");
    setup(); // a restarted agent
    expect(await call(`{"execute":"guest-file-open","arguments":{"path":"${f}"}}`)).toBe('{"return": 1001}');
  });
  it("refuses reads above the named limit", async () => {
    setup({ ...DEFAULT_AGENT_LIMITS, fileReadMax: 10 });
    const f = join(dir, "f.txt");
    writeFileSync(f, "hello");
    await call(`{"execute":"guest-file-open","arguments":{"path":"${f}"}}`);
    expect(await call('{"execute":"guest-file-read","arguments":{"handle":1000,"count":11}}')).toContain("value '11' is invalid for argument count");
    expect(await call('{"execute":"guest-file-read","arguments":{"handle":1000,"count":10}}')).toBe('{"return": {"count": 5, "buf-b64": "aGVsbG8=", "eof": true}}');
  });
});

/** guest-exec-status for `pid`, polled until the process has exited (at most 2 s). */
async function statusOnceExited(pid: string): Promise<string> {
  let status = "";
  for (let i = 0; i < 200; i++) {
    status = (await call(`{"execute":"guest-exec-status","arguments":{"pid":${pid}}}`))!;
    if (!status.includes('"exited": false')) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  return status;
}

describe("guest-exec", () => {
  it("truncates captured output at the named limit", async () => {
    setup({ ...DEFAULT_AGENT_LIMITS, execCaptureMax: 4 });
    const r = await call('{"execute":"guest-exec","arguments":{"path":"/bin/echo","arg":["123456789"],"capture-output":true}}');
    const pid = /"pid": (\d+)/.exec(r!)![1];
    const status = await statusOnceExited(pid!);
    expect(status).toBe('{"return": {"exitcode": 0, "out-data": "MTIzNA==", "out-truncated": true, "exited": true}}');
  });
  it("reports the number of any signal that ended the process, not only 1-15", async () => {
    // SIGPROF is 27 on Linux x86-64 and arm64: past the classic 1-15, and it ends a process
    // without a core dump (SIGSYS would leave a core file where the limits allow one).
    const r = await call('{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","kill -PROF $$"]}}');
    const pid = /"pid": (\d+)/.exec(r!)![1];
    const status = await statusOnceExited(pid!);
    expect(status).toBe('{"return": {"signal": 27, "exited": true}}'); // qemu-ga's QDict order
  });
});

describe("guest-get-osinfo", () => {
  it("reads the overridable os-release path", async () => {
    writeFileSync(join(dir, "root/etc/os-release"), 'ID=test\nNAME="Test OS"\nVERSION_ID="1.2"\n');
    const r = JSON.parse((await call('{"execute":"guest-get-osinfo"}'))!) as { return: Record<string, string> };
    expect(r.return).toMatchObject({ id: "test", name: "Test OS", "version-id": "1.2" });
    expect(typeof r.return["kernel-release"]).toBe("string");
  });
});
