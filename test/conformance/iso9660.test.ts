// Images from the in-process writer, read back by the tools guests and operators actually use:
// blkid (how cloud-init finds the seed), isoinfo (cdrkit), and xorriso/osirrox (libisofs).
// A missing tool fails these tests: they exist to prove compatibility, so skipping would hide it.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { buildIso9660 } from "../../metadata-server/seed/iso9660.ts";
import type { IsoFile } from "../../metadata-server/seed/iso9660.ts";

const SECTOR = 2048;
const TIMESTAMP = new Date(Date.UTC(2026, 10, 24, 0, 52, 34));
const enc = new TextEncoder();
const u8 = (text: string): Uint8Array => enc.encode(text);

const TOOLS = ["blkid", "isoinfo", "osirrox", "xorriso"] as const;

// blkid lives in sbin, which is often missing from a non-root PATH.
function findOnPath(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin"])) {
    if (!dir) continue;
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const toolPaths = new Map<string, string>();

function tool(name: (typeof TOOLS)[number]): string {
  const path = toolPaths.get(name) ?? findOnPath(name);
  if (!path) {
    throw new Error(`${name} is not installed: the ISO conformance tests need blkid (util-linux), isoinfo (genisoimage) and xorriso`);
  }
  toolPaths.set(name, path);
  return path;
}

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(name: (typeof TOOLS)[number], args: string[]): RunResult {
  const r = spawnSync(tool(name), args, { encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  expect(r.status, `${name} ${args.join(" ")} failed:\n${r.stderr}`).toBe(0);
  return { stdout: r.stdout, stderr: r.stderr };
}

// libisofs reports problems as SORRY/FAILURE (and worse) events on stderr even when it carries on.
function expectNoLibisofsComplaints(result: RunResult): void {
  expect(result.stderr).not.toMatch(/SORRY|FAILURE|FATAL|ABORT/);
}

let workRoot = "";
let imageCounter = 0;

beforeAll(() => {
  workRoot = mkdtempSync(join(tmpdir(), "guestlink-iso9660-"));
});

afterAll(() => {
  if (workRoot) removeTree(workRoot);
});

// Extracted directories keep the image's read-only modes; make them writable so they can go.
function removeTree(root: string): void {
  const makeWritable = (dir: string): void => {
    chmodSync(dir, 0o755);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) makeWritable(join(dir, entry.name));
    }
  };
  try {
    makeWritable(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function writeImage(image: Uint8Array): string {
  const path = join(workRoot, `image-${++imageCounter}.iso`);
  writeFileSync(path, image);
  return path;
}

/** Extracts with osirrox (Rock Ridge names) and returns every regular file, relative path to bytes. */
function extract(imagePath: string): Map<string, Buffer> {
  const target = join(workRoot, `extract-${++imageCounter}`);
  try {
    expectNoLibisofsComplaints(run("osirrox", ["-indev", imagePath, "-extract", "/", target]));
    const files = new Map<string, Buffer>();
    const visit = (dir: string, prefix: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) visit(full, `${prefix}${entry.name}/`);
        else if (entry.isFile()) files.set(prefix + entry.name, readFileSync(full));
        else throw new Error(`unexpected ${full} in extraction`);
      }
    };
    visit(target, "");
    return files;
  } finally {
    removeTree(target);
  }
}

function expectSameFiles(actual: Map<string, Buffer>, expected: IsoFile[]): void {
  expect([...actual.keys()].sort()).toEqual(expected.map((f) => f.path).sort());
  for (const f of expected) {
    const got = actual.get(f.path);
    expect(got, f.path).toBeDefined();
    expect(got!.length, `${f.path} length`).toBe(f.data.length);
    expect(got!.equals(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength)), `${f.path} bytes`).toBe(true);
  }
}

/** Parses `isoinfo -l` output into full paths of files and directories (without "." and ".."). */
function isoinfoListing(output: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  let current = "/";
  for (const line of output.split("\n")) {
    const heading = /^Directory listing of (\/.*)$/.exec(line);
    if (heading) {
      current = heading[1]!;
      continue;
    }
    const entry = /^([d-])[rwx-]{9}\s.*\]\s\s(.*) $/.exec(line);
    if (!entry) continue;
    const name = entry[2]!;
    if (name === "." || name === "..") continue;
    (entry[1] === "d" ? dirs : files).push((current + name).slice(1));
  }
  return { files, dirs };
}

function parentDirs(paths: string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return [...dirs].sort();
}

describe("tools", () => {
  it("has every reader these tests rely on installed", () => {
    const missing = TOOLS.filter((name) => findOnPath(name) === undefined);
    expect(missing, `missing: ${missing.join(", ")}; install util-linux, genisoimage and xorriso`).toEqual([]);
  });
});

const NOCLOUD: IsoFile[] = [
  { path: "meta-data", data: u8("instance-id: iid-local01\nlocal-hostname: guest\n") },
  { path: "user-data", data: u8("#cloud-config\npassword: passw0rd\nchpasswd: { expire: False }\nssh_pwauth: True\n") },
  { path: "vendor-data", data: u8("#cloud-config\n{}\n") },
  { path: "network-config", data: u8("version: 2\nethernets:\n  eth0:\n    dhcp4: true\n") },
];

const CONFIG_DRIVE: IsoFile[] = [
  { path: "openstack/latest/meta_data.json", data: u8('{"uuid":"83679162-1378-4288-a2d4-70e13ec132aa","hostname":"guest"}') },
  { path: "openstack/latest/user_data", data: u8("#cloud-config\n") },
  { path: "openstack/latest/network_data.json", data: u8('{"links":[],"networks":[],"services":[]}') },
  { path: "openstack/latest/vendor_data.json", data: u8("{}") },
  { path: "openstack/latest/vendor_data2.json", data: new Uint8Array(0) },
  { path: "openstack/2018-08-27/meta_data.json", data: u8('{"uuid":"83679162-1378-4288-a2d4-70e13ec132aa"}') },
  { path: "openstack/2018-08-27/network_data.json", data: new Uint8Array(3 * SECTOR).map((_, i) => (i * 7) & 0xff) },
  { path: "openstack/content/0000", data: u8("ssh-ed25519 AAAA test\n") },
  { path: "ec2/latest/meta-data.json", data: u8('{"instance-id":"i-0001"}') },
];

describe("NoCloud seed (cidata)", () => {
  let image = "";
  beforeAll(() => {
    image = writeImage(buildIso9660({ volumeId: "cidata", files: NOCLOUD, timestamp: TIMESTAMP }));
  });

  it("is detected by blkid as iso9660 labelled cidata", () => {
    const { stdout } = run("blkid", ["-p", "-o", "export", image]);
    expect(stdout).toMatch(/^TYPE=iso9660$/m);
    expect(stdout).toMatch(/^LABEL=cidata$/m);
    // blkid derives the UUID from the modification date, so it follows the timestamp.
    expect(stdout).toMatch(/^UUID=2026-11-24-00-52-34-00$/m);
  });

  it("is described by isoinfo -d with Rock Ridge, Joliet and the right volume size", () => {
    const { stdout } = run("isoinfo", ["-d", "-i", image]);
    expect(stdout).toMatch(/^Volume id: cidata$/m);
    expect(stdout).toContain("Rock Ridge signatures version 1 found");
    expect(stdout).toContain("Joliet with UCS level 3 found");
    expect(stdout).toMatch(/^Logical block size is: 2048$/m);
    expect(stdout).toMatch(/^Volume set size is: 1$/m);
    expect(stdout).toMatch(/^Application id: GUESTLINK$/m);
    const size = Number(/^Volume size is: (\d+)$/m.exec(stdout)?.[1]);
    expect(size * SECTOR).toBe(statSync(image).size);
  });

  it("lists the real names with isoinfo -R -l and isoinfo -J -l", () => {
    const expected = NOCLOUD.map((f) => f.path).sort();
    expect(isoinfoListing(run("isoinfo", ["-R", "-l", "-i", image]).stdout).files.sort()).toEqual(expected);
    expect(isoinfoListing(run("isoinfo", ["-J", "-l", "-i", image]).stdout).files.sort()).toEqual(expected);
  });

  it("lists strict level 1 names without extensions", () => {
    const { files } = isoinfoListing(run("isoinfo", ["-l", "-i", image]).stdout);
    expect(files.sort()).toEqual(["META_DAT.;1", "NETWORK_.;1", "USER_DAT.;1", "VENDOR_D.;1"]);
  });

  it("extracts byte for byte with osirrox", () => {
    expectSameFiles(extract(image), NOCLOUD);
  });
});

describe("ConfigDrive seed (config-2)", () => {
  let image = "";
  beforeAll(() => {
    image = writeImage(buildIso9660({ volumeId: "config-2", files: CONFIG_DRIVE, timestamp: TIMESTAMP, publisherId: "guestlink" }));
  });

  it("is detected by blkid as iso9660 labelled config-2", () => {
    const { stdout } = run("blkid", ["-p", "-o", "export", image]);
    expect(stdout).toMatch(/^TYPE=iso9660$/m);
    expect(stdout).toMatch(/^LABEL=config-2$/m);
  });

  it("is described by isoinfo -d", () => {
    const { stdout } = run("isoinfo", ["-d", "-i", image]);
    expect(stdout).toMatch(/^Volume id: config-2$/m);
    expect(stdout).toMatch(/^Publisher id: guestlink$/m);
    expect(stdout).toContain("Rock Ridge signatures version 1 found");
    expect(stdout).toContain("Joliet with UCS level 3 found");
  });

  it("lists the nested tree with Rock Ridge and Joliet names", () => {
    const expectedFiles = CONFIG_DRIVE.map((f) => f.path).sort();
    const expectedDirs = parentDirs(expectedFiles);
    for (const flag of ["-R", "-J"]) {
      const listing = isoinfoListing(run("isoinfo", [flag, "-l", "-i", image]).stdout);
      expect(listing.files.sort(), flag).toEqual(expectedFiles);
      expect(listing.dirs.sort(), flag).toEqual(expectedDirs);
    }
  });

  it("serves file contents through all three trees in isoinfo -x", () => {
    const wanted = CONFIG_DRIVE[0]!;
    const viaRockRidge = spawnSync(tool("isoinfo"), ["-R", "-i", image, "-x", `/${wanted.path}`]);
    const viaJoliet = spawnSync(tool("isoinfo"), ["-J", "-i", image, "-x", `/${wanted.path}`]);
    const viaLevel1 = spawnSync(tool("isoinfo"), ["-i", image, "-x", "/OPENSTAC/LATEST/META_DAT.JSO;1"]);
    for (const r of [viaRockRidge, viaJoliet, viaLevel1]) {
      expect(r.status).toBe(0);
      expect(Buffer.compare(r.stdout, Buffer.from(wanted.data))).toBe(0);
    }
  });

  it("extracts byte for byte with osirrox, including the empty file and the multi-sector file", () => {
    expectSameFiles(extract(image), CONFIG_DRIVE);
  });

  it("is walked by xorriso -find without complaints", () => {
    const result = run("xorriso", ["-indev", image, "-find", "/"]);
    expectNoLibisofsComplaints(result);
    const found = result.stdout
      .split("\n")
      .filter((l) => l.startsWith("'/"))
      .map((l) => l.slice(2, -1))
      .filter((p) => p.length > 0);
    expect(found.sort()).toEqual([...CONFIG_DRIVE.map((f) => f.path), ...parentDirs(CONFIG_DRIVE.map((f) => f.path))].sort());
  });
});

describe("edge cases read back by the real tools", () => {
  it("handles multi-sector directories, path tables and continuation areas, and names up to 255 characters", () => {
    const files: IsoFile[] = [
      ...Array.from({ length: 150 }, (_, i) => ({
        path: `many/entry-${String(i).padStart(3, "0")}_${"v".repeat(60)}.json`,
        data: u8(`{"n":${i}}`),
      })),
      { path: `long/${"l".repeat(200)}`, data: u8("two hundred") },
      { path: `long/${"m".repeat(255)}`, data: u8("two hundred fifty-five") },
      { path: `long/${"d".repeat(180)}/inner.txt`, data: u8("below a long directory name") },
      { path: "case/Data.txt", data: u8("upper") },
      { path: "case/data.txt", data: u8("lower") },
      { path: "case/data_txt", data: u8("underscore") },
      { path: "odd/ spaces and !#$%&'()+,;=@[]^`{}~", data: u8("punctuation") },
      { path: "odd/.hidden", data: u8("dot file") },
      { path: "odd/trailing.", data: u8("trailing dot") },
      { path: "1/2/3/4/5/6/7/deepest-allowed", data: u8("eight levels") },
      // Enough long names to need several continuation sectors.
      ...Array.from({ length: 24 }, (_, i) => ({ path: `names/${String(i).padStart(2, "0")}-${"q".repeat(190)}`, data: u8(`q${i}`) })),
      // Enough directories for both path tables to span several sectors.
      ...Array.from({ length: 200 }, (_, i) => ({ path: `dirs/directory-number-${i}/f`, data: u8(`d${i}`) })),
    ];
    const image = writeImage(buildIso9660({ volumeId: "cidata", files, timestamp: TIMESTAMP }));
    expectSameFiles(extract(image), files);
    expect(isoinfoListing(run("isoinfo", ["-R", "-l", "-i", image]).stdout).files.sort()).toEqual(files.map((f) => f.path).sort());
    expectNoLibisofsComplaints(run("xorriso", ["-indev", image, "-find", "/"]));
    const joliet = isoinfoListing(run("isoinfo", ["-J", "-l", "-i", image]).stdout).files;
    expect(new Set(joliet).size).toBe(files.length);
    expect(joliet.filter((p) => p.startsWith("many/"))).toHaveLength(150);
    // The case really exercised multi-sector path tables (size field of the PVD and the Joliet SVD).
    const bytes = readFileSync(image);
    expect(bytes.readUInt32LE(16 * SECTOR + 132)).toBeGreaterThan(SECTOR);
    expect(bytes.readUInt32LE(17 * SECTOR + 132)).toBeGreaterThan(2 * SECTOR);
  });

  it("accepts an image without any files", () => {
    const image = writeImage(buildIso9660({ volumeId: "cidata", files: [], timestamp: TIMESTAMP }));
    expect(run("blkid", ["-p", "-o", "export", image]).stdout).toMatch(/^LABEL=cidata$/m);
    expect(extract(image).size).toBe(0);
  });
});

describe("random trees round-trip through osirrox", () => {
  const SAFE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_".split("");
  const segment = fc
    .array(fc.constantFrom(...SAFE_CHARS), { minLength: 1, maxLength: 14 })
    .map((chars) => chars.join(""))
    .filter((s) => s !== "." && s !== "..");
  const size = fc.oneof(
    fc.constantFrom(0, 1, SECTOR - 1, SECTOR, SECTOR + 1, 2 * SECTOR),
    fc.integer({ min: 0, max: 5000 }),
  );
  const entry = fc.record({
    segments: fc.array(segment, { minLength: 1, maxLength: 3 }),
    size,
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
  });

  // Keeps the first of any conflicting paths: duplicates, and a file where another needs a directory.
  function toFiles(entries: { segments: string[]; size: number; seed: number }[]): IsoFile[] {
    const files: IsoFile[] = [];
    const filePaths = new Set<string>();
    const dirPaths = new Set<string>();
    for (const e of entries) {
      const path = e.segments.join("/");
      const parents = e.segments.slice(0, -1).map((_, i) => e.segments.slice(0, i + 1).join("/"));
      if (filePaths.has(path) || dirPaths.has(path) || parents.some((p) => filePaths.has(p))) continue;
      filePaths.add(path);
      parents.forEach((p) => dirPaths.add(p));
      const data = new Uint8Array(e.size);
      let state = e.seed;
      for (let i = 0; i < data.length; i++) {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        data[i] = state >>> 24;
      }
      files.push({ path, data });
    }
    return files;
  }

  it("extracts every file with its name and bytes intact", () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 12 }), (entries) => {
        const files = toFiles(entries);
        const image = writeImage(buildIso9660({ volumeId: "cidata", files, timestamp: TIMESTAMP }));
        try {
          expectSameFiles(extract(image), files);
        } finally {
          rmSync(image, { force: true });
        }
      }),
      { numRuns: 15 },
    );
  });
});
