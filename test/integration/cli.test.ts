// The guestlink command line as other tools call it: exit codes, messages, and seeds written as
// directories and as ISO images that blkid, isoinfo, osirrox and cloud-init accept.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { agentCredential } from "../../metadata-server/state/tokens.ts";
import { readSeedWithCloudInit } from "../helpers/cloud-init.ts";
import { run, tempDir } from "../helpers/peers.ts";

const work = tempDir("cli");
afterAll(() => work.remove());

function guestlink(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/guestlink", ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe("guestlink validate", () => {
  it("exits 0 and summarises a valid inventory", () => {
    const r = guestlink("validate", "examples/inventory.yaml");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/valid: 6 networks, 2 hosts, 5 VMs, 12 vNICs/);
  });

  it("exits 1 with every problem as FILE:LINE:COL: FIELD: MESSAGE [CODE] on stderr", () => {
    const bad = join(work.path, "bad.yaml");
    writeFileSync(bad, readFileSync("examples/inventory.yaml", "utf8")
      .replace('mac: "52:54:00:10:00:02"', 'mac: "52:54:00:10:00:01"')
      .replace("    mtu: 9000\n    ipv4:\n      subnet: 198.51.100.0/24", "    mtu: 40\n    ipv4:\n      subnet: 198.51.100.0/24"));
    const r = guestlink("validate", bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(new RegExp(`^${bad}:\\d+:\\d+: networks\\[1\\]\\.mtu: MTU 40 is impossible: below 68.* \\[MTU_IMPOSSIBLE\\]$`, "m"));
    expect(r.stderr).toMatch(/vms\[1\]\.nics\[0\]\.mac: MAC 52:54:00:10:00:01 is already used by vms\[0\]\.nics\[0\]\.mac \[DUPLICATE_MAC\]/);
    expect(r.stderr).toMatch(/problems found/);
  });

  it("prints machine-readable problems with --json", () => {
    const r = guestlink("validate", "test/fixtures/inventories/families.yaml", "--json");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: true, issues: [] });
  });

  it("exits 1 for a file that does not exist, and 2 for a wrong call", () => {
    expect(guestlink("validate", join(work.path, "nope.yaml")).stderr).toMatch(/FILE_UNREADABLE/);
    expect(guestlink("validate").status).toBe(2);
    expect(guestlink("validate", "a", "b").status).toBe(2);
    expect(guestlink("frobnicate").status).toBe(2);
    expect(guestlink().status).toBe(2);
    expect(guestlink("--help").status).toBe(0);
  });
});

describe("guestlink render", () => {
  it("needs a format and exactly one target", () => {
    expect(guestlink("render", "examples/inventory.yaml", "--vm", "web-1", "--out", work.path).status).toBe(2);
    expect(guestlink("render", "examples/inventory.yaml", "--vm", "web-1", "--format", "floppy", "--out", work.path).status).toBe(2);
    expect(guestlink("render", "examples/inventory.yaml", "--vm", "web-1", "--format", "nocloud").status).toBe(2);
    const unknown = guestlink("render", "examples/inventory.yaml", "--vm", "nope", "--format", "nocloud", "--out", work.path);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no VM named or with id nope .*web-1, db-1/);
  });

  it("finds a VM by name or by id (any case)", () => {
    const byId = join(work.path, "by-id");
    expect(guestlink("render", "examples/inventory.yaml", "--vm", "6F1C2A3E-0B7D-4C55-9A31-2F6D1E8B4A02", "--format", "nocloud", "--out", byId).status).toBe(0);
    expect(readFileSync(join(byId, "meta-data"), "utf8")).toMatch(/local-hostname: db-1\.example\.test/);
  });

  it.each([
    ["nocloud", "cidata", ["meta-data", "network-config", "user-data", "vendor-data"]],
    ["configdrive", "config-2", ["ec2/latest/meta-data.json", "openstack/2018-08-27/meta_data.json", "openstack/2018-08-27/network_data.json", "openstack/2018-08-27/user_data",
      "openstack/2018-08-27/vendor_data.json", "openstack/latest/meta_data.json", "openstack/latest/network_data.json", "openstack/latest/user_data",
      "openstack/latest/vendor_data.json"]],
  ] as const)("writes a %s ISO that blkid, isoinfo, osirrox and cloud-init read back byte for byte", (format, label, files) => {
    const dir = join(work.path, `${format}-dir`);
    const iso = join(work.path, `${format}.iso`);
    const extracted = join(work.path, `${format}-extracted`);
    expect(guestlink("render", "examples/inventory.yaml", "--vm", "router-1", "--format", format, "--out", dir).status).toBe(0);
    expect(guestlink("render", "examples/inventory.yaml", "--vm", "router-1", "--format", format, "--iso", iso).status).toBe(0);

    const blkid = run("blkid", ["-p", "-o", "export", iso]);
    expect(blkid.stdout).toMatch(new RegExp(`^LABEL=${label}$`, "m"));
    expect(blkid.stdout).toMatch(/^TYPE=iso9660$/m);
    const info = run("isoinfo", ["-d", "-i", iso]).stdout;
    expect(info).toMatch(new RegExp(`^Volume id: ${label}$`, "m"));
    expect(info).toMatch(/Rock Ridge signatures version 1 found/);
    expect(info).toMatch(/Joliet with UCS level 3 found/);
    expect(run("osirrox", ["-indev", iso, "-extract", "/", extracted]).status).toBe(0);

    expect(filesUnder(dir)).toEqual([...files]);
    expect(filesUnder(extracted)).toEqual([...files]);
    for (const f of files) expect(readFileSync(join(extracted, f)).equals(readFileSync(join(dir, f))), f).toBe(true);

    const view = readSeedWithCloudInit(extracted);
    expect(view.errors).toEqual([]);
    expect(view.datasource).toBe(format);
    expect(view.hostname).toBe("router-1.example.test");
    expect(view.interfaces.map((i) => [i.name, i.mtu === null ? null : Number(i.mtu)])).toEqual([["eth0", 1500], ["eth1", 1442], ["eth2", 9000], ["eth3", 1500]]);
  });

  it("writes every VM's seed with --all, as directories or as images", () => {
    const out = join(work.path, "all");
    expect(guestlink("render", "examples/inventory.yaml", "--all", "--out", out).status).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["app-1", "db-1", "nfv-1", "router-1", "web-1"]);
    const images = join(work.path, "all-images");
    const r = guestlink("render", "examples/inventory.yaml", "--all", "--format", "configdrive", "--out", images, "--images");
    expect(r.status).toBe(0);
    expect(readdirSync(images).sort()).toEqual(["app-1.iso", "db-1.iso", "nfv-1.iso", "router-1.iso", "web-1.iso"]);
    expect(run("blkid", ["-p", "-o", "value", "-s", "LABEL", join(images, "db-1.iso")]).stdout.trim()).toBe("config-2");
  });

  it("with --public-url, puts each VM's own agent enrollment into its vendor-data, under the server's secret", () => {
    const state = join(work.path, "enroll-state");
    const credentialOf = (vm: string) => {
      const out = join(work.path, `enroll-${vm}`);
      expect(guestlink("render", "examples/inventory.yaml", "--vm", vm, "--format", "nocloud", "--out", out, "--public-url", "http://192.0.2.2:8775/", "--state-dir", state).status).toBe(0);
      const content = /content: (".*")$/m.exec(readFileSync(join(out, "vendor-data"), "utf8"))![1]!;
      return JSON.parse(JSON.parse(content)) as { server: string; credential: string };
    };
    const web = credentialOf("web-1");
    expect(web.server).toBe("ws://192.0.2.2:8775/v1/agent");
    const secret = readFileSync(join(state, "server-secret"));
    expect(web.credential).toBe(agentCredential(secret, "6f1c2a3e-0b7d-4c55-9a31-2f6d1e8b4a01"));
    expect(credentialOf("web-1")).toEqual(web);
    expect(credentialOf("db-1").credential).not.toBe(web.credential);
    expect(guestlink("render", "examples/inventory.yaml", "--vm", "web-1", "--format", "nocloud", "--out", work.path, "--state-dir", state).status).toBe(2);
  });

  it("makes identical images from identical input when SOURCE_DATE_EPOCH is set", () => {
    const a = join(work.path, "a.iso");
    const b = join(work.path, "b.iso");
    for (const f of [a, b]) {
      const r = spawnSync(process.execPath, ["bin/guestlink", "render", "examples/inventory.yaml", "--vm", "web-1", "--format", "nocloud", "--iso", f],
        { env: { ...process.env, SOURCE_DATE_EPOCH: "1700000000" } });
      expect(r.status).toBe(0);
    }
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });
});
