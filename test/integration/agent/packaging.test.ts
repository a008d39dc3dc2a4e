// The .deb recipe: builds the package and checks what makes it a drop-in for qemu-guest-agent,
// then runs lintian on it (no warnings or errors allowed).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../../conformance/agent/harness.ts";

let out = "";
let deb = "";

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "guestlink-deb-"));
  const r = spawnSync("bash", [join(REPO, "packaging/agent/build-deb.sh"), out], { encoding: "utf8", cwd: REPO });
  if (r.status !== 0) throw new Error(`build-deb.sh failed: ${r.stderr}`);
  deb = r.stdout.trim().split("\n").pop()!;
});

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

const field = (name: string): string => spawnSync("dpkg-deb", ["-f", deb, name], { encoding: "utf8" }).stdout.trim();

describe("guestlink-agent .deb", () => {
  it("replaces qemu-guest-agent", () => {
    expect(field("Package")).toBe("guestlink-agent");
    expect(field("Conflicts")).toBe("qemu-guest-agent");
    expect(field("Replaces")).toBe("qemu-guest-agent");
    expect(field("Provides")).toBe("qemu-guest-agent");
    expect(field("Depends")).toBe("nodejs (>= 18)");
  });

  it("ships the bundle, unit, udev rule and compatibility links", () => {
    const list = spawnSync("dpkg-deb", ["-c", deb], { encoding: "utf8" }).stdout;
    for (const p of ["./usr/lib/guestlink-agent/guestlink-agent", "./lib/systemd/system/guestlink-agent.service",
      "./lib/udev/rules.d/60-guestlink-agent.rules", "./usr/sbin/qemu-ga -> ../bin/guestlink-agent",
      "./lib/systemd/system/qemu-guest-agent.service -> guestlink-agent.service"]) {
      expect(list).toContain(p);
    }
  });

  it("starts from udev on the org.qemu.guest_agent.0 port, like qemu-guest-agent", () => {
    const rule = readFileSync(join(REPO, "packaging/agent/60-guestlink-agent.rules"), "utf8");
    expect(rule).toMatch(/SUBSYSTEM=="virtio-ports", ATTR\{name\}=="org\.qemu\.guest_agent\.0".*ENV\{SYSTEMD_WANTS\}="guestlink-agent\.service"/);
    const unit = readFileSync(join(REPO, "packaging/agent/guestlink-agent.service"), "utf8");
    expect(unit).toContain("BindsTo=dev-virtio\\x2dports-org.qemu.guest_agent.0.device");
  });

  it("is lintian clean", () => {
    const r = spawnSync("lintian", ["--fail-on", "warning", deb], { encoding: "utf8" });
    if (r.error) throw new Error("lintian is required for this test: apt-get install lintian");
    expect(r.stdout.split("\n").filter((l) => /^[EW]: /.test(l))).toEqual([]);
    expect(r.status).toBe(0);
  });
});
