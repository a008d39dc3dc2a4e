import { describe, it, expect } from "vitest";
import { buildIso9660, IsoError, DEFAULT_ISO_LIMITS } from "../../../metadata-server/seed/iso9660.ts";
import type { IsoFile, IsoOptions } from "../../../metadata-server/seed/iso9660.ts";

// A small, independent ISO 9660 reader: the tests check the writer's bytes against the
// specification's field offsets rather than against the writer's own helpers.

const SECTOR = 2048;
const enc = new TextEncoder();
const TIMESTAMP = new Date(Date.UTC(2026, 10, 24, 0, 52, 34, 560));

const u8 = (text: string): Uint8Array => enc.encode(text);
const ascii = (img: Uint8Array, start: number, length: number): string =>
  String.fromCharCode(...img.subarray(start, start + length));
const ucs2 = (img: Uint8Array, start: number, length: number): string => {
  let s = "";
  for (let i = 0; i < length; i += 2) s += String.fromCharCode(((img[start + i] ?? 0) << 8) | (img[start + i + 1] ?? 0));
  return s;
};
const le32 = (img: Uint8Array, at: number): number =>
  ((img[at] ?? 0) | ((img[at + 1] ?? 0) << 8) | ((img[at + 2] ?? 0) << 16) | ((img[at + 3] ?? 0) << 24)) >>> 0;
const be32 = (img: Uint8Array, at: number): number =>
  (((img[at] ?? 0) << 24) | ((img[at + 1] ?? 0) << 16) | ((img[at + 2] ?? 0) << 8) | (img[at + 3] ?? 0)) >>> 0;
const le16 = (img: Uint8Array, at: number): number => (img[at] ?? 0) | ((img[at + 1] ?? 0) << 8);
const be16 = (img: Uint8Array, at: number): number => ((img[at] ?? 0) << 8) | (img[at + 1] ?? 0);

/** Reads a both-endian 32-bit field and fails the test if its two halves disagree. */
function both32(img: Uint8Array, at: number): number {
  const little = le32(img, at);
  expect(be32(img, at + 4), `both-endian field at ${at}`).toBe(little);
  return little;
}
function both16(img: Uint8Array, at: number): number {
  const little = le16(img, at);
  expect(be16(img, at + 2), `both-endian field at ${at}`).toBe(little);
  return little;
}

interface SuEntry {
  sig: string;
  bytes: Uint8Array;
}

interface Rec {
  at: number;
  length: number;
  extent: number;
  size: number;
  flags: number;
  idBytes: Uint8Array;
  su: SuEntry[];
  date: number[];
}

/** Parses SUSP entries, following CE continuation areas. */
function parseSu(img: Uint8Array, start: number, end: number): SuEntry[] {
  const entries: SuEntry[] = [];
  let pos = start;
  let limit = end;
  const continuations: [number, number][] = [];
  for (;;) {
    while (pos + 4 <= limit) {
      const length = img[pos + 2] ?? 0;
      if (length < 4) break;
      const sig = ascii(img, pos, 2);
      const bytes = img.slice(pos, pos + length);
      entries.push({ sig, bytes });
      if (sig === "CE") {
        continuations.push([both32(bytes, 4) * SECTOR + both32(bytes, 12), both32(bytes, 20)]);
      }
      if (sig === "ST") break;
      pos += length;
    }
    const next = continuations.shift();
    if (!next) return entries;
    pos = next[0];
    limit = next[0] + next[1];
    expect(Math.floor(pos / SECTOR), "continuation area stays in one sector").toBe(Math.floor((limit - 1) / SECTOR));
  }
}

/** Reads every record of a directory extent, checking that none crosses a sector boundary. */
function readDirectory(img: Uint8Array, extent: number, size: number): Rec[] {
  expect(size % SECTOR).toBe(0);
  const records: Rec[] = [];
  const start = extent * SECTOR;
  let pos = start;
  while (pos < start + size) {
    const length = img[pos] ?? 0;
    if (length === 0) {
      // Rest of the sector is padding: it must be all zeros.
      const sectorEnd = start + (Math.floor((pos - start) / SECTOR) + 1) * SECTOR;
      expect(img.subarray(pos, sectorEnd).every((b) => b === 0)).toBe(true);
      pos = sectorEnd;
      continue;
    }
    expect(length % 2, "record length is even").toBe(0);
    expect(Math.floor((pos - start) / SECTOR), "record does not cross a sector").toBe(
      Math.floor((pos - start + length - 1) / SECTOR),
    );
    const idLength = img[pos + 32] ?? 0;
    const suStart = pos + 33 + idLength + (idLength % 2 === 0 ? 1 : 0);
    records.push({
      at: pos,
      length,
      extent: both32(img, pos + 2),
      size: both32(img, pos + 10),
      flags: img[pos + 25] ?? 0,
      idBytes: img.slice(pos + 33, pos + 33 + idLength),
      su: parseSu(img, suStart, pos + length),
      date: [...img.subarray(pos + 18, pos + 25)],
    });
    expect(both16(img, pos + 28), "volume sequence number").toBe(1);
    pos += length;
  }
  return records;
}

function nmName(rec: Rec): string | undefined {
  const parts = rec.su.filter((e) => e.sig === "NM");
  if (parts.length === 0) return undefined;
  parts.slice(0, -1).forEach((p) => expect(p.bytes[4], "NM CONTINUE flag").toBe(1));
  expect(parts[parts.length - 1]?.bytes[4]).toBe(0);
  return parts.map((p) => ascii(p.bytes, 5, p.bytes.length - 5)).join("");
}

interface Volume {
  descriptorAt: number;
  rootExtent: number;
  rootSize: number;
  pathTableSize: number;
  lTable: number;
  mTable: number;
}

function volume(img: Uint8Array, sector: number): Volume {
  const at = sector * SECTOR;
  return {
    descriptorAt: at,
    pathTableSize: both32(img, at + 132),
    lTable: le32(img, at + 140),
    mTable: be32(img, at + 148),
    rootExtent: both32(img, at + 156 + 2),
    rootSize: both32(img, at + 156 + 10),
  };
}

interface TreeEntry {
  path: string;
  rec: Rec;
  isDir: boolean;
}

/** Walks a directory tree; `nameOf` picks Rock Ridge, Joliet or level 1 names. */
function walk(img: Uint8Array, vol: Volume, nameOf: (rec: Rec) => string): { entries: TreeEntry[]; dirs: Map<string, Rec[]> } {
  const entries: TreeEntry[] = [];
  const dirs = new Map<string, Rec[]>();
  const visit = (prefix: string, extent: number, size: number): void => {
    const records = readDirectory(img, extent, size);
    dirs.set(prefix, records);
    expect([...(records[0]?.idBytes ?? [])]).toEqual([0]);
    expect([...(records[1]?.idBytes ?? [])]).toEqual([1]);
    expect(records[0]?.extent).toBe(extent);
    for (const rec of records.slice(2)) {
      const path = prefix + nameOf(rec);
      const isDir = (rec.flags & 2) !== 0;
      entries.push({ path, rec, isDir });
      if (isDir) visit(path + "/", rec.extent, rec.size);
    }
  };
  visit("", vol.rootExtent, vol.rootSize);
  return { entries, dirs };
}

const rrName = (rec: Rec): string => nmName(rec) ?? "<no NM>";
const jolietName = (rec: Rec): string => ucs2(rec.idBytes, 0, rec.idBytes.length);
const level1Name = (rec: Rec): string => ascii(rec.idBytes, 0, rec.idBytes.length);

function fileContents(img: Uint8Array, rec: Rec): Uint8Array {
  return img.subarray(rec.extent * SECTOR, rec.extent * SECTOR + rec.size);
}

const NOCLOUD: IsoFile[] = [
  { path: "meta-data", data: u8("instance-id: iid-local01\nlocal-hostname: guest\n") },
  { path: "user-data", data: u8("#cloud-config\npassword: passw0rd\nchpasswd: { expire: False }\n") },
  { path: "vendor-data", data: u8("#cloud-config\n{}\n") },
  { path: "network-config", data: u8("version: 2\nethernets:\n  eth0:\n    dhcp4: true\n") },
];

const CONFIG_DRIVE: IsoFile[] = [
  { path: "openstack/latest/meta_data.json", data: u8('{"uuid":"83679162-1378-4288-a2d4-70e13ec132aa"}') },
  { path: "openstack/latest/user_data", data: u8("#cloud-config\n") },
  { path: "openstack/latest/network_data.json", data: u8('{"links":[],"networks":[],"services":[]}') },
  { path: "openstack/2018-08-27/meta_data.json", data: u8('{"uuid":"83679162-1378-4288-a2d4-70e13ec132aa"}') },
  { path: "openstack/2018-08-27/network_data.json", data: new Uint8Array(2 * SECTOR).fill(0x7b) },
  { path: "ec2/latest/meta-data.json", data: new Uint8Array(0) },
];

function build(files: IsoFile[], extra: Partial<IsoOptions> = {}): Uint8Array {
  return buildIso9660({ volumeId: "cidata", files, timestamp: TIMESTAMP, ...extra });
}

function expectIsoError(fn: () => unknown, code: string, mention: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(IsoError);
  expect((caught as IsoError).code).toBe(code);
  expect((caught as IsoError).message).toContain(mention);
}

describe("volume descriptors", () => {
  const img = build(NOCLOUD, { publisherId: "guestlink test" });

  it("starts with 16 zero sectors and a complete descriptor set", () => {
    expect(img.length % SECTOR).toBe(0);
    expect(img.subarray(0, 16 * SECTOR).every((b) => b === 0)).toBe(true);
    expect([img[16 * SECTOR], img[17 * SECTOR], img[18 * SECTOR]]).toEqual([1, 2, 255]);
    for (const sector of [16, 17, 18]) {
      expect(ascii(img, sector * SECTOR + 1, 5)).toBe("CD001");
      expect(img[sector * SECTOR + 6]).toBe(1);
    }
  });

  it("fills the primary volume descriptor fields", () => {
    const at = 16 * SECTOR;
    expect(ascii(img, at + 40, 32)).toBe("cidata".padEnd(32, " "));
    expect(both32(img, at + 80)).toBe(img.length / SECTOR);
    expect(img.subarray(at + 88, at + 120).every((b) => b === 0)).toBe(true);
    expect(both16(img, at + 120)).toBe(1);
    expect(both16(img, at + 124)).toBe(1);
    expect(both16(img, at + 128)).toBe(2048);
    expect(ascii(img, at + 318, 128).trimEnd()).toBe("guestlink test");
    expect(ascii(img, at + 574, 128).trimEnd()).toBe("GUESTLINK");
    expect(ascii(img, at + 813, 16)).toBe("2026112400523456");
    expect(img[at + 829]).toBe(0);
    expect(ascii(img, at + 830, 16)).toBe("2026112400523456");
    expect(ascii(img, at + 847, 16)).toBe("0".repeat(16));
    expect(img[at + 881]).toBe(1);
    // The root record in the descriptor is a bare 34-byte "." record.
    expect(img[at + 156]).toBe(34);
    expect(img[at + 156 + 25]).toBe(2);
    expect(img[at + 156 + 33]).toBe(0);
  });

  it("identifies the supplementary descriptor as Joliet UCS-2 level 3 with a UCS-2 volume id", () => {
    const at = 17 * SECTOR;
    expect(ascii(img, at + 88, 3)).toBe("%/E");
    expect(ucs2(img, at + 40, 32)).toBe("cidata".padEnd(16, " "));
    expect(ucs2(img, at + 574, 128).trimEnd()).toBe("GUESTLINK");
    expect(both32(img, at + 80)).toBe(img.length / SECTOR);
    expect(both16(img, at + 128)).toBe(2048);
    expect(img[at + 881]).toBe(1);
  });

  it("keeps a custom application id and a lowercase volume id as given", () => {
    const custom = buildIso9660({ volumeId: "config-2", files: [], timestamp: TIMESTAMP, applicationId: "SEEDS" });
    expect(ascii(custom, 16 * SECTOR + 40, 32).trimEnd()).toBe("config-2");
    expect(ascii(custom, 16 * SECTOR + 574, 128).trimEnd()).toBe("SEEDS");
  });

  it("truncates the Joliet volume id to the 16 characters its field holds", () => {
    const long = buildIso9660({ volumeId: "a-volume-id-of-32-characters-abc", files: [], timestamp: TIMESTAMP });
    expect(ascii(long, 16 * SECTOR + 40, 32)).toBe("a-volume-id-of-32-characters-abc");
    expect(ucs2(long, 17 * SECTOR + 40, 32)).toBe("a-volume-id-of-3");
  });
});

describe("directory trees", () => {
  it("records the real names and file contents in the Rock Ridge tree", () => {
    const img = build(CONFIG_DRIVE);
    const { entries } = walk(img, volume(img, 16), rrName);
    const files = entries.filter((e) => !e.isDir);
    expect(files.map((e) => e.path).sort()).toEqual(CONFIG_DRIVE.map((f) => f.path).sort());
    for (const f of CONFIG_DRIVE) {
      const entry = files.find((e) => e.path === f.path);
      expect(entry, f.path).toBeDefined();
      expect(Buffer.from(fileContents(img, entry!.rec)).equals(Buffer.from(f.data)), f.path).toBe(true);
    }
    expect(entries.filter((e) => e.isDir).map((e) => e.path).sort()).toEqual(
      ["ec2", "ec2/latest", "openstack", "openstack/2018-08-27", "openstack/latest"].sort(),
    );
  });

  it("records the same names and extents in the Joliet tree, without version suffixes", () => {
    const img = build(CONFIG_DRIVE);
    const rock = walk(img, volume(img, 16), rrName).entries;
    const joliet = walk(img, volume(img, 17), jolietName).entries;
    expect(joliet.map((e) => e.path).sort()).toEqual(rock.map((e) => e.path).sort());
    for (const j of joliet.filter((e) => !e.isDir)) {
      const r = rock.find((e) => e.path === j.path)!;
      expect([j.rec.extent, j.rec.size]).toEqual([r.rec.extent, r.rec.size]);
    }
  });

  it("uses level 1 identifiers (8.3 d-characters, ;1 on files) in the primary tree", () => {
    const img = build([...NOCLOUD, ...CONFIG_DRIVE, { path: ".hidden", data: u8("h") }, { path: "a.b.c.tar.gz", data: u8("t") }]);
    const { entries } = walk(img, volume(img, 16), level1Name);
    for (const e of entries) {
      const id = e.path.split("/").pop()!;
      if (e.isDir) expect(id).toMatch(/^[A-Z0-9_]{1,8}$/);
      else expect(id).toMatch(/^[A-Z0-9_]{1,8}\.[A-Z0-9_]{0,3};1$/);
    }
    const ids = entries.map((e) => e.path);
    expect(ids).toContain("META_DAT.;1");
    expect(ids).toContain("NETWORK_.;1");
    expect(ids).toContain("OPENSTAC/LATEST/META_DAT.JSO;1");
    expect(ids).toContain("_HIDDEN.;1");
    expect(ids).toContain("A_B_C_TA.GZ;1");
  });

  it("makes colliding level 1 and Joliet names unique without touching Rock Ridge names", () => {
    const names = ["data.txt", "DATA.txt", "data_txt", "Data.TXT", "datafile-one.txt", "datafile-two.txt", "a:b", "a;b", "a_b"];
    const img = build(names.map((path) => ({ path, data: u8(path) })));
    const level1 = walk(img, volume(img, 16), level1Name).entries.map((e) => e.path);
    expect(new Set(level1).size).toBe(names.length);
    const joliet = walk(img, volume(img, 17), jolietName).entries;
    expect(new Set(joliet.map((e) => e.path)).size).toBe(names.length);
    expect(joliet.every((e) => !/[*:;?\\]/.test(e.path))).toBe(true);
    // Each Joliet name still points at the file it was derived from.
    const byContent = new Map(joliet.map((e) => [new TextDecoder().decode(fileContents(img, e.rec)), e.path]));
    expect(byContent.get("data.txt")).toBe("data.txt");
    expect(byContent.get("a_b")).toBe("a_b");
    const rock = walk(img, volume(img, 16), rrName).entries.map((e) => e.path);
    expect(rock.sort()).toEqual([...names].sort());
  });

  it("sorts records as ECMA-119 9.3 requires (name, then extension, space-padded)", () => {
    const names = ["a", "a0", "ab.c", "a.d", "b.a", "b", "zz", "z.z", "m/x", "m0/y"];
    const img = build(names.map((path) => ({ path, data: u8(path) })));
    const { dirs } = walk(img, volume(img, 16), level1Name);
    const key = (id: string): [string, string] => {
      const [name, ext = ""] = id.replace(/;1$/, "").split(".");
      return [name!, ext];
    };
    const padCompare = (x: string, y: string): number => {
      const n = Math.max(x.length, y.length);
      const a = x.padEnd(n, " ");
      const b = y.padEnd(n, " ");
      return a < b ? -1 : a > b ? 1 : 0;
    };
    for (const records of dirs.values()) {
      const ids = records.slice(2).map(level1Name);
      const sorted = [...ids].sort((x, y) => {
        const [xn, xe] = key(x);
        const [yn, ye] = key(y);
        return padCompare(xn, yn) || padCompare(xe, ye);
      });
      expect(ids).toEqual(sorted);
    }
    // "A.;1" must precede "A0.;1" even though ";" sorts after "0" bytewise.
    const root = dirs.get("")!.slice(2).map(level1Name);
    expect(root.indexOf("A.;1")).toBeLessThan(root.indexOf("A0.;1"));
  });

  it("spans directories over several sectors without splitting records", () => {
    const files = Array.from({ length: 120 }, (_, i) => ({
      path: `many/file-${String(i).padStart(3, "0")}-${"n".repeat(90)}.json`,
      data: u8(`content ${i}`),
    }));
    const img = build(files);
    const rock = walk(img, volume(img, 16), rrName);
    const many = rock.entries.find((e) => e.path === "many")!;
    expect(many.rec.size).toBeGreaterThan(2 * SECTOR);
    expect(rock.entries.filter((e) => !e.isDir).map((e) => e.path).sort()).toEqual(files.map((f) => f.path).sort());
    const joliet = walk(img, volume(img, 17), jolietName);
    expect(joliet.entries.find((e) => e.path === "many")!.rec.size).toBeGreaterThan(SECTOR);
    expect(joliet.entries.filter((e) => !e.isDir)).toHaveLength(120);
    // "." of the directory and its entry in the parent agree on the size.
    expect(rock.dirs.get("many/")![0]!.size).toBe(many.rec.size);
  });

  it("aligns file data to sectors, gives empty files extent 0 and lets no extents overlap", () => {
    const sizes = [0, 1, 2047, 2048, 2049, 4096, 5000, 0];
    const files = sizes.map((size, i) => ({ path: `f${i}`, data: new Uint8Array(size).fill(i + 1) }));
    const img = build(files);
    const { entries } = walk(img, volume(img, 16), rrName);
    const used: [number, number][] = [];
    for (const [i, size] of sizes.entries()) {
      const rec = entries.find((e) => e.path === `f${i}`)!.rec;
      expect(rec.size).toBe(size);
      if (size === 0) {
        expect(rec.extent).toBe(0);
        continue;
      }
      expect(fileContents(img, rec).every((b) => b === i + 1)).toBe(true);
      // Bytes after the data, up to the sector end, are zero.
      const end = rec.extent * SECTOR + size;
      expect(img.subarray(end, Math.ceil(end / SECTOR) * SECTOR).every((b) => b === 0)).toBe(true);
      used.push([rec.extent, rec.extent + Math.ceil(size / SECTOR)]);
    }
    used.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < used.length; i++) expect(used[i]![0]).toBeGreaterThanOrEqual(used[i - 1]![1]);
    expect(used[used.length - 1]![1]).toBeLessThanOrEqual(img.length / SECTOR);
  });

  it("builds a valid image with no files at all", () => {
    const img = build([]);
    const { entries } = walk(img, volume(img, 16), rrName);
    expect(entries).toEqual([]);
    expect(both32(img, 16 * SECTOR + 80)).toBe(img.length / SECTOR);
  });
});

describe("path tables", () => {
  function readPathTable(img: Uint8Array, sector: number, size: number, little: boolean, joliet: boolean) {
    const rows: { id: string; extent: number; parent: number }[] = [];
    let pos = sector * SECTOR;
    const end = pos + size;
    while (pos < end) {
      const idLength = img[pos] ?? 0;
      expect(img[pos + 1]).toBe(0);
      const extent = little ? le32(img, pos + 2) : be32(img, pos + 2);
      const parent = little ? le16(img, pos + 6) : be16(img, pos + 6);
      const id = joliet && idLength > 1 ? ucs2(img, pos + 8, idLength) : ascii(img, pos + 8, idLength);
      rows.push({ id, extent, parent });
      pos += 8 + idLength + (idLength % 2);
    }
    expect(pos).toBe(end);
    return rows;
  }

  for (const [label, sector, nameOf, joliet] of [
    ["primary", 16, level1Name, false],
    ["Joliet", 17, jolietName, true],
  ] as const) {
    it(`lists every ${label} directory, in order, identically in multi-sector L and M tables`, () => {
      const manyDirs = Array.from({ length: 150 }, (_, i) => ({ path: `dirs/directory-number-${i}/f`, data: u8(String(i)) }));
      const img = build([...CONFIG_DRIVE, { path: "a/b/c/d/e/f/g/h", data: u8("deep") }, ...manyDirs]);
      const vol = volume(img, sector);
      expect(vol.pathTableSize, "table spans several sectors").toBeGreaterThan(SECTOR);
      const little = readPathTable(img, vol.lTable, vol.pathTableSize, true, joliet);
      const big = readPathTable(img, vol.mTable, vol.pathTableSize, false, joliet);
      expect(big).toEqual(little);
      expect(little[0]).toEqual({ id: "\0", extent: vol.rootExtent, parent: 1 });

      const { entries } = walk(img, vol, nameOf);
      const dirs = entries.filter((e) => e.isDir);
      expect(little).toHaveLength(dirs.length + 1);
      const pathOf = (index: number): string => {
        const row = little[index - 1]!;
        return index === 1 ? "" : (row.parent === 1 ? "" : pathOf(row.parent) + "/") + row.id;
      };
      for (const [i, row] of little.entries()) {
        if (i === 0) continue;
        // Parents come first, and each row's extent is that directory's extent.
        expect(row.parent).toBeLessThan(i + 1);
        const dir = dirs.find((d) => d.path === pathOf(i + 1));
        expect(dir, pathOf(i + 1)).toBeDefined();
        expect(row.extent).toBe(dir!.rec.extent);
      }
      // Ordered by level, then parent number, then identifier.
      const level = (index: number): number => (index === 1 ? 1 : 1 + level(little[index - 1]!.parent));
      for (let i = 2; i < little.length; i++) {
        const a = little[i - 1]!;
        const b = little[i]!;
        const order = level(i) - level(i + 1) || a.parent - b.parent || (a.id < b.id ? -1 : 1);
        expect(order, `${a.id} before ${b.id}`).toBeLessThan(0);
      }
    });
  }
});

describe("Rock Ridge system use entries", () => {
  const img = build(CONFIG_DRIVE);
  const vol = volume(img, 16);
  const rootRecords = readDirectory(img, vol.rootExtent, vol.rootSize);

  it("puts SP first in the root's '.' record and an ER entry for RRIP_1991A behind its CE", () => {
    const dot = rootRecords[0]!;
    expect(dot.su[0]?.sig).toBe("SP");
    expect([...dot.su[0]!.bytes]).toEqual([0x53, 0x50, 7, 1, 0xbe, 0xef, 0]);
    const er = dot.su.find((e) => e.sig === "ER");
    expect(er, "ER reached through CE").toBeDefined();
    const [idLength, descLength, srcLength] = [er!.bytes[4]!, er!.bytes[5]!, er!.bytes[6]!];
    expect(ascii(er!.bytes, 8, idLength)).toBe("RRIP_1991A");
    expect(ascii(er!.bytes, 8 + idLength, descLength)).toContain("ROCK RIDGE");
    expect(er!.bytes.length).toBe(8 + idLength + descLength + srcLength);
    expect(er!.bytes[7]).toBe(1);
  });

  it("gives every record PX and TF, and every named record an NM with its real name", () => {
    const { entries, dirs } = walk(img, vol, rrName);
    for (const records of dirs.values()) {
      for (const rec of records) {
        const px = rec.su.find((e) => e.sig === "PX");
        const tf = rec.su.find((e) => e.sig === "TF");
        expect(px?.bytes.length).toBe(36);
        const mode = both32(px!.bytes, 4);
        expect(mode).toBe((rec.flags & 2) !== 0 ? 0o40555 : 0o100444);
        expect(tf?.bytes[4]).toBe(0x0e);
        expect([...tf!.bytes.subarray(5, 12)]).toEqual([126, 11, 24, 0, 52, 34, 0]);
        expect(rec.date).toEqual([126, 11, 24, 0, 52, 34, 0]);
      }
    }
    expect(entries.map((e) => e.path)).toContain("openstack/2018-08-27/network_data.json");
  });

  it("counts a directory's links as 2 plus its subdirectories", () => {
    const openstack = rootRecords.find((r) => nmName(r) === "openstack")!;
    expect(both32(openstack.su.find((e) => e.sig === "PX")!.bytes, 12)).toBe(4);
    expect(both32(rootRecords[0]!.su.find((e) => e.sig === "PX")!.bytes, 12)).toBe(4);
  });

  it("moves names that do not fit inline into continuation areas, split at 250 bytes", () => {
    const names = ["n".repeat(120), "l".repeat(200), "m".repeat(250), "x".repeat(251), "y".repeat(255)];
    const long = build(names.map((path) => ({ path: `dir/${path}`, data: u8(path) })));
    const { entries } = walk(long, volume(long, 16), rrName);
    expect(entries.filter((e) => !e.isDir).map((e) => e.path).sort()).toEqual(names.map((n) => `dir/${n}`).sort());
    const ceUsers = entries.filter((e) => e.rec.su.some((s) => s.sig === "CE"));
    expect(ceUsers.length).toBeGreaterThanOrEqual(4);
    const y = entries.find((e) => e.path.endsWith("y".repeat(255)))!;
    expect(y.rec.su.filter((s) => s.sig === "NM")).toHaveLength(2);
  });
});

describe("determinism", () => {
  it("produces identical bytes for identical input, regardless of file order", () => {
    const a = build(CONFIG_DRIVE);
    const b = build(CONFIG_DRIVE.map((f) => ({ path: f.path, data: f.data.slice() })));
    const c = build([...CONFIG_DRIVE].reverse());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(true);
  });

  it("changes only with the timestamp, not with the wall clock", () => {
    const a = build(NOCLOUD);
    const later = build(NOCLOUD, { timestamp: new Date(TIMESTAMP.getTime() + 1000) });
    expect(Buffer.from(a).equals(Buffer.from(later))).toBe(false);
    expect(later.length).toBe(a.length);
  });

  it("rejects timestamps ISO 9660 cannot record", () => {
    expect(() => build(NOCLOUD, { timestamp: new Date(Number.NaN) })).toThrow(RangeError);
    expect(() => build(NOCLOUD, { timestamp: new Date(Date.UTC(1850, 0, 1)) })).toThrow(/1900-2155/);
  });
});

describe("input validation", () => {
  const file = (path: string): IsoFile => ({ path, data: u8("x") });

  it("rejects malformed paths, naming them", () => {
    expectIsoError(() => build([file("/meta-data")]), "ISO_BAD_PATH", "/meta-data");
    expectIsoError(() => build([file("a//b")]), "ISO_BAD_PATH", "a//b");
    expectIsoError(() => build([file("a/")]), "ISO_BAD_PATH", "a/");
    expectIsoError(() => build([file("")]), "ISO_BAD_PATH", "non-empty");
    expectIsoError(() => build([file("a/./b")]), "ISO_BAD_PATH", "a/./b");
    expectIsoError(() => build([file("../b")]), "ISO_BAD_PATH", "../b");
    expectIsoError(() => build([file("tab\there")]), "ISO_BAD_PATH", "tab\\there");
    expectIsoError(() => build([file("nul\0")]), "ISO_BAD_PATH", "printable ASCII");
    expectIsoError(() => build([file("caf\u00e9")]), "ISO_BAD_PATH", "printable ASCII");
  });

  it("accepts every printable ASCII character except '/' in names", () => {
    let name = "";
    for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2f) name += String.fromCharCode(c);
    const img = build([file(name)]);
    expect(walk(img, volume(img, 16), rrName).entries.map((e) => e.path)).toEqual([name]);
  });

  it("rejects duplicates and paths that are both a file and a directory", () => {
    expectIsoError(() => build([file("a/b"), file("a/b")]), "ISO_DUPLICATE_PATH", "a/b");
    expectIsoError(() => build([file("a"), file("a/b")]), "ISO_DUPLICATE_PATH", '"a" is both a file and a directory');
    expectIsoError(() => build([file("a/b"), file("a")]), "ISO_DUPLICATE_PATH", '"a" is both a file and a directory');
  });

  it("enforces the limits", () => {
    expectIsoError(() => build([file("a"), file("b"), file("c")], { limits: { maxFiles: 2 } }), "ISO_LIMIT", "3 files");
    expectIsoError(
      () => build([{ path: "big", data: new Uint8Array(11) }], { limits: { maxTotalBytes: 10 } }),
      "ISO_LIMIT",
      "big",
    );
    expectIsoError(() => build([file("a/b/c")], { limits: { maxPathDepth: 2 } }), "ISO_LIMIT", "a/b/c");
    expectIsoError(() => build([file("abcdef")], { limits: { maxNameLength: 5 } }), "ISO_LIMIT", "abcdef");
    expectIsoError(() => build([file("n".repeat(256))], { limits: { maxNameLength: 1000 } }), "ISO_LIMIT", "255");
    expectIsoError(() => build([file("a")], { limits: { maxFiles: -1 } }), "ISO_LIMIT", "maxFiles");
    expect(() => build([file("a/b/c")], { limits: { maxPathDepth: 3 } })).not.toThrow();
  });

  it("has the documented default limits", () => {
    expect(DEFAULT_ISO_LIMITS).toEqual({ maxFiles: 10_000, maxTotalBytes: 64 * 1024 * 1024, maxPathDepth: 8, maxNameLength: 255 });
    expectIsoError(() => build([file("1/2/3/4/5/6/7/8/9")]), "ISO_LIMIT", "9 levels");
  });

  it("rejects volume ids that are empty, too long or contain unusual characters", () => {
    const withVolume = (volumeId: string) => () => buildIso9660({ volumeId, files: [], timestamp: TIMESTAMP });
    expectIsoError(withVolume(""), "ISO_BAD_VOLUME_ID", "non-empty");
    expectIsoError(withVolume("x".repeat(33)), "ISO_BAD_VOLUME_ID", "32");
    expectIsoError(withVolume("ci/data"), "ISO_BAD_VOLUME_ID", "ci/data");
    expectIsoError(withVolume("cidata "), "ISO_BAD_VOLUME_ID", "cidata ");
    expectIsoError(withVolume("ci\u00e9"), "ISO_BAD_VOLUME_ID", "letters");
    expect(() => withVolume("x".repeat(32))()).not.toThrow();
    expect(() => withVolume("My Seed_1.0")()).not.toThrow();
  });

  it("rejects publisher and application ids that do not fit their fields", () => {
    expectIsoError(() => build([], { publisherId: "p".repeat(129) }), "ISO_BAD_VOLUME_ID", "publisherId");
    expectIsoError(() => build([], { applicationId: "line\nbreak" }), "ISO_BAD_VOLUME_ID", "applicationId");
  });

  it("reports errors as IsoError instances with a name", () => {
    const err = new IsoError("ISO_LIMIT", "too big");
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("IsoError");
    expect(err.code).toBe("ISO_LIMIT");
  });
});
