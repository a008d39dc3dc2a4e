import { describe, it, expect } from "vitest";
import { parseCommandLine, parseKeyfile } from "../../../agent/config.ts";

const parse = (argv: string[], conf?: string) => parseCommandLine(argv, {}, () => conf, () => ["guest-ping", "guest-sync"], "guestlink-agent", "1.0");

describe("command line", () => {
  it("accepts qemu-ga's flags in short, long and --opt=value forms", () => {
    const a = parse(["-m", "unix-listen", "--path=/run/s", "-t", "/var/lib/x", "-b", "guest-exec,guest-file-open", "-a", "guest-ping", "-v", "-r", "-l", "/var/log/a"]);
    expect(a.kind).toBe("run");
    if (a.kind !== "run") return;
    expect(a.config).toMatchObject({ method: "unix-listen", path: "/run/s", stateDir: "/var/lib/x", verbose: true, retryPath: true, logFile: "/var/log/a" });
    expect(a.config.blockRpcs).toEqual(["guest-file-open", "guest-exec"]);
    expect(a.config.allowRpcs).toEqual(["guest-ping"]);
  });
  it("defaults to the virtio-serial port", () => {
    const a = parse([]);
    expect(a.kind === "run" && a.config.path).toBe("/dev/virtio-ports/org.qemu.guest_agent.0");
  });
  it("prints the command list for -b help and -a help", () => {
    expect(parse(["-b", "help"])).toEqual({ kind: "print", text: "guest-ping\nguest-sync\n", exitCode: 0 });
    expect(parse(["-a", "help"])).toEqual({ kind: "print", text: "guest-ping\nguest-sync\n", exitCode: 0 });
  });
  it("refuses unknown options and methods like qemu-ga", () => {
    expect(parse(["-x"])).toMatchObject({ kind: "error", exitCode: 1, stderr: "guestlink-agent: invalid option -- 'x'\n" });
    expect(parse(["-m", "vsock-listen"])).toMatchObject({ kind: "error", exitCode: 1 });
  });
  it("takes the keyfile's settings and lets flags override them", () => {
    const a = parse(["-p", "/dev/ttyS1"], "[general]\nmethod=isa-serial\npath=/dev/ttyS0\nallow-rpcs=guest-ping,guest-sync\n# comment\n");
    expect(a.kind === "run" && a.config).toMatchObject({ method: "isa-serial", path: "/dev/ttyS1", allowRpcs: ["guest-sync", "guest-ping"] });
  });
  it("dumps allow-rpcs after qemu-ga's keys", () => {
    const a = parse(["-D", "-a", "guest-ping", "-m", "unix-listen", "-p", "/s"]);
    expect(a.kind === "print" && a.text).toBe("[general]\ndaemon=false\nmethod=unix-listen\npath=/s\npidfile=/var/run/qemu-ga.pid\nstatedir=/var/run\nverbose=false\nretry-path=false\nblock-rpcs=\nallow-rpcs=guest-ping\n");
  });
  it("parses keyfile groups", () => {
    expect(parseKeyfile("[general]\na = 1\n[other]\nb=2").get("other")?.get("b")).toBe("2");
  });
});
