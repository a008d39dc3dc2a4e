// In-process ISO 9660 writer for cloud-init seed images (NoCloud "cidata", ConfigDrive "config-2").
//
// The image carries three views of the same files, because guests read seeds with very different
// drivers: strict ISO 9660 level 1 names (8.3, uppercase, ";1") for minimal readers, Rock Ridge
// (RRIP_1991A: SP/RR/PX/TF/NM/CE/ER entries) for Linux, where cloud-init expects the real
// lowercase names such as "meta-data", and a Joliet supplementary tree (UCS-2 level 3) for
// Windows guests (cloudbase-init).
//
// Layout, in 2048-byte sectors:
//   0-15   system area (zeros)
//   16     primary volume descriptor
//   17     Joliet supplementary volume descriptor
//   18     volume descriptor set terminator
//   19..   path tables: primary L, primary M, Joliet L, Joliet M
//   ..     Rock Ridge continuation areas (the ER entry, and names too long to fit inline)
//   ..     primary directories, in path table order
//   ..     Joliet directories, in path table order
//   ..     file data, each file starting on a sector boundary
//
// Accepted file paths: "/"-separated relative paths whose segments consist of printable ASCII
// (0x20-0x7E) other than "/", are not "." or "..", and are at most min(maxNameLength, 255)
// characters long. Every accepted name is stored unchanged as the Rock Ridge name; Rock Ridge
// names that do not fit in a directory record's system use field are moved into a CE
// continuation area, so the full 255 characters are always available. The level 1 names and the
// Joliet names are derived from it (mangled, truncated and made unique per directory). Joliet
// names are cut to 64 characters, and the characters Joliet forbids (* : ; ? \) become "_".
// Directories are implied by the file paths. Rejected input raises IsoError: ISO_BAD_PATH
// (leading "/", empty, "." or ".." segments, other characters), ISO_DUPLICATE_PATH (the same path
// twice, or a path used both as a file and as a directory), ISO_LIMIT (IsoLimits, names over 255
// characters, images ISO 9660 cannot address) and ISO_BAD_VOLUME_ID (volume ids that are empty,
// longer than 32 characters or not made of letters, digits, "_", "-", "." and inner spaces; also
// publisher and application ids over 128 characters or outside printable ASCII). A timestamp that
// is invalid or outside 1900-2155 raises RangeError.
// Empty files get extent 0 and length 0: readers never fetch data for them, and it keeps them
// out of the data area.
//
// The module is pure: it does no I/O and reads no clock; the same options always produce the same
// bytes.

export interface IsoFile {
  path: string;
  data: Uint8Array;
}

export interface IsoOptions {
  volumeId: string;
  files: IsoFile[];
  timestamp: Date;
  publisherId?: string;
  applicationId?: string;
  limits?: Partial<IsoLimits>;
}

export interface IsoLimits {
  maxFiles: number;
  maxTotalBytes: number;
  maxPathDepth: number;
  maxNameLength: number;
}

export const DEFAULT_ISO_LIMITS: IsoLimits = Object.freeze({
  maxFiles: 10_000,
  maxTotalBytes: 64 * 1024 * 1024,
  // ECMA-119 allows 8 directory levels including the root, so a file path of 8 segments is the
  // deepest that strict readers accept without Rock Ridge relocation (which this writer omits).
  maxPathDepth: 8,
  maxNameLength: 255,
});

export type IsoErrorCode = "ISO_BAD_PATH" | "ISO_DUPLICATE_PATH" | "ISO_LIMIT" | "ISO_BAD_VOLUME_ID";

export class IsoError extends Error {
  code: IsoErrorCode;
  constructor(code: IsoErrorCode, message: string) {
    super(message);
    this.name = "IsoError";
    this.code = code;
  }
}

const SECTOR = 2048;
const SYSTEM_AREA_SECTORS = 16;
const PVD_SECTOR = 16;
const SVD_SECTOR = 17;
const TERMINATOR_SECTOR = 18;
const FIRST_FREE_SECTOR = 19;

// Linux and most readers cap a Rock Ridge name at NAME_MAX.
const ROCK_RIDGE_NAME_MAX = 255;
// Joliet's specification limits identifiers to 64 UCS-2 characters; longer names break Windows.
const JOLIET_NAME_MAX = 64;
const LEVEL1_BASE_MAX = 8;
const LEVEL1_EXT_MAX = 3;
const MAX_DIRECTORY_RECORD = 254; // 255 is the field's limit, records must have even length
const MAX_PATH_TABLE_DIRECTORIES = 0xffff; // parent directory numbers are 16-bit
const MAX_IMAGE_SECTORS = Math.floor(0xffffffff / SECTOR);

const FLAG_DIRECTORY = 0x02;

// System use entry sizes (SUSP 1.10 / RRIP 1.10).
const SP_LEN = 7;
const RR_LEN = 5;
const PX_LEN = 36; // RRIP_1991A form: mode, links, uid, gid (no serial number)
const TF_LEN = 5 + 3 * 7; // modify, access and attribute-change times, short form
const CE_LEN = 28;
const NM_HEADER = 5;
const NM_CHUNK_MAX = 255 - NM_HEADER;

const RR_FLAG_PX = 0x01;
const RR_FLAG_NM = 0x08;
const RR_FLAG_TF = 0x80;
const NM_FLAG_CONTINUE = 0x01;

const ER_ID = "RRIP_1991A";
const ER_DESCRIPTOR = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const ER_SOURCE =
  "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";
const ER_LEN = 8 + ER_ID.length + ER_DESCRIPTOR.length + ER_SOURCE.length;

// A seed is read-only media: nobody may write, everybody may read.
const MODE_DIRECTORY = 0o40555;
const MODE_FILE = 0o100444;

const ROOT_DOT_SU_LEN = SP_LEN + RR_LEN + PX_LEN + TF_LEN + CE_LEN;
const DOT_SU_LEN = RR_LEN + PX_LEN + TF_LEN;
const NAMED_SU_FIXED = RR_LEN + PX_LEN + TF_LEN;

// genisoimage -V stores almost any string, but blkid and udev escape unusual characters in
// /dev/disk/by-label and a trailing space would be lost, so only a conservative set is accepted.
const VOLUME_ID_PATTERN = /^[A-Za-z0-9_.\-]([A-Za-z0-9_.\- ]{0,30}[A-Za-z0-9_.\-])?$/;
const VOLUME_ID_MAX = 32;
const DESCRIPTOR_TEXT_MAX = 128;
const JOLIET_VOLUME_ID_CHARS = 16;

const DEFAULT_APPLICATION_ID = "GUESTLINK";

interface ContinuationArea {
  sector: number; // relative to the first continuation sector until placed
  offset: number;
  length: number;
}

interface FileNode {
  kind: "file";
  name: string;
  data: Uint8Array;
  level1Id: string;
  jolietId: string;
  primaryRecordLength: number;
  nameContinuation: ContinuationArea | null;
  extent: number;
}

interface DirNode {
  kind: "dir";
  name: string;
  parent: DirNode | null;
  children: Map<string, TreeNode>;
  level1Id: string;
  jolietId: string;
  primaryRecordLength: number;
  nameContinuation: ContinuationArea | null;
  primaryChildren: TreeNode[];
  jolietChildren: TreeNode[];
  subdirectoryCount: number;
  primaryExtent: number;
  primarySectors: number;
  primaryNumber: number;
  jolietExtent: number;
  jolietSectors: number;
  jolietNumber: number;
}

type TreeNode = FileNode | DirNode;

export function buildIso9660(opts: IsoOptions): Uint8Array {
  const limits = resolveLimits(opts.limits);
  const volumeId = validateVolumeId(opts.volumeId);
  const publisherId = validateDescriptorText("publisherId", opts.publisherId ?? "");
  const applicationId = validateDescriptorText("applicationId", opts.applicationId ?? DEFAULT_APPLICATION_ID);
  const stamp = encodeTimestamp(opts.timestamp);

  const root = buildTree(opts.files, limits);
  const directories: DirNode[] = [];
  collectDirectories(root, directories);
  if (directories.length > MAX_PATH_TABLE_DIRECTORIES) {
    throw new IsoError("ISO_LIMIT", `too many directories (${directories.length}); path tables hold at most ${MAX_PATH_TABLE_DIRECTORIES}`);
  }
  for (const dir of directories) assignIdentifiers(dir);

  const primaryOrder = pathTableOrder(root, (d) => d.primaryChildren);
  const jolietOrder = pathTableOrder(root, (d) => d.jolietChildren);
  // Directory numbers are 1-based positions in the path table; records refer to parents by them.
  primaryOrder.forEach((dir, i) => (dir.primaryNumber = i + 1));
  jolietOrder.forEach((dir, i) => (dir.jolietNumber = i + 1));

  // Continuation areas: the root's ER entry first, then names too long to stay inline. Each area
  // stays inside one sector because readers fetch a single block per CE entry.
  const continuation = { sectors: 0, used: SECTOR };
  const erArea = allocateContinuation(continuation, ER_LEN);
  for (const dir of primaryOrder) {
    for (const child of dir.primaryChildren) sizePrimaryRecord(child, continuation);
  }

  for (const dir of primaryOrder) {
    dir.primarySectors = layoutSectors(primaryRecordLengths(dir));
  }
  for (const dir of jolietOrder) {
    dir.jolietSectors = layoutSectors(jolietRecordLengths(dir));
  }

  const primaryPathTableSize = pathTableSize(primaryOrder, (d) => d.level1Id.length);
  const jolietPathTableSize = pathTableSize(jolietOrder, (d) => d.jolietId.length * 2);
  const primaryPathTableSectors = sectorsFor(primaryPathTableSize);
  const jolietPathTableSectors = sectorsFor(jolietPathTableSize);

  let next = FIRST_FREE_SECTOR;
  const primaryLTable = next;
  next += primaryPathTableSectors;
  const primaryMTable = next;
  next += primaryPathTableSectors;
  const jolietLTable = next;
  next += jolietPathTableSectors;
  const jolietMTable = next;
  next += jolietPathTableSectors;
  const continuationStart = next;
  next += continuation.sectors;
  for (const dir of primaryOrder) {
    dir.primaryExtent = next;
    next += dir.primarySectors;
  }
  for (const dir of jolietOrder) {
    dir.jolietExtent = next;
    next += dir.jolietSectors;
  }
  // Files go in primary directory order so related files sit together; empty files occupy no
  // sectors and point at extent 0, which genisoimage-compatible readers accept for length 0.
  const filesInOrder: FileNode[] = [];
  for (const dir of primaryOrder) {
    for (const child of dir.primaryChildren) {
      if (child.kind !== "file") continue;
      filesInOrder.push(child);
      if (child.data.length === 0) {
        child.extent = 0;
      } else {
        child.extent = next;
        next += sectorsFor(child.data.length);
      }
    }
  }
  const totalSectors = next;
  if (totalSectors > MAX_IMAGE_SECTORS) {
    throw new IsoError("ISO_LIMIT", `image would need ${totalSectors} sectors, more than ISO 9660 can address`);
  }

  erArea.sector += continuationStart;
  for (const dir of primaryOrder) {
    for (const child of dir.primaryChildren) {
      if (child.nameContinuation) child.nameContinuation.sector += continuationStart;
    }
  }

  const image = new Uint8Array(totalSectors * SECTOR);
  const w = new ImageWriter(image, stamp);

  w.writeVolumeDescriptor(PVD_SECTOR * SECTOR, {
    type: 1,
    joliet: false,
    volumeId,
    publisherId,
    applicationId,
    totalSectors,
    pathTableSize: primaryPathTableSize,
    lTable: primaryLTable,
    mTable: primaryMTable,
    rootExtent: root.primaryExtent,
    rootBytes: root.primarySectors * SECTOR,
  });
  w.writeVolumeDescriptor(SVD_SECTOR * SECTOR, {
    type: 2,
    joliet: true,
    volumeId,
    publisherId,
    applicationId,
    totalSectors,
    pathTableSize: jolietPathTableSize,
    lTable: jolietLTable,
    mTable: jolietMTable,
    rootExtent: root.jolietExtent,
    rootBytes: root.jolietSectors * SECTOR,
  });
  writeTerminator(image, TERMINATOR_SECTOR * SECTOR);

  writePathTable(image, primaryLTable * SECTOR, primaryOrder, true, (d) => d.primaryExtent, (d) => d.primaryNumber, primaryIdBytes);
  writePathTable(image, primaryMTable * SECTOR, primaryOrder, false, (d) => d.primaryExtent, (d) => d.primaryNumber, primaryIdBytes);
  writePathTable(image, jolietLTable * SECTOR, jolietOrder, true, (d) => d.jolietExtent, (d) => d.jolietNumber, jolietIdBytes);
  writePathTable(image, jolietMTable * SECTOR, jolietOrder, false, (d) => d.jolietExtent, (d) => d.jolietNumber, jolietIdBytes);

  w.writeErEntry(erArea.sector * SECTOR + erArea.offset);
  for (const dir of primaryOrder) w.writePrimaryDirectory(dir, dir === root ? erArea : null);
  for (const dir of jolietOrder) w.writeJolietDirectory(dir);

  for (const file of filesInOrder) {
    if (file.data.length > 0) image.set(file.data, file.extent * SECTOR);
  }
  return image;
}

// ---------------------------------------------------------------------------------------------
// Validation and tree building

function resolveLimits(partial: Partial<IsoLimits> | undefined): IsoLimits {
  const limits: IsoLimits = { ...DEFAULT_ISO_LIMITS, ...(partial ?? {}) };
  for (const key of Object.keys(DEFAULT_ISO_LIMITS) as (keyof IsoLimits)[]) {
    const value = limits[key];
    if (!Number.isInteger(value) || value < 0) {
      throw new IsoError("ISO_LIMIT", `limit ${key} must be a non-negative integer, got ${String(value)}`);
    }
  }
  return limits;
}

function validateVolumeId(volumeId: string): string {
  if (typeof volumeId !== "string" || volumeId.length === 0) {
    throw new IsoError("ISO_BAD_VOLUME_ID", "volume id must be a non-empty string");
  }
  if (volumeId.length > VOLUME_ID_MAX) {
    throw new IsoError("ISO_BAD_VOLUME_ID", `volume id "${volumeId}" is longer than ${VOLUME_ID_MAX} characters`);
  }
  if (!VOLUME_ID_PATTERN.test(volumeId)) {
    throw new IsoError(
      "ISO_BAD_VOLUME_ID",
      `volume id ${JSON.stringify(volumeId)} may only contain letters, digits, "_", "-", "." and inner spaces`,
    );
  }
  return volumeId;
}

function validateDescriptorText(field: string, value: string): string {
  if (value.length > DESCRIPTOR_TEXT_MAX || !isPrintableAscii(value)) {
    throw new IsoError("ISO_BAD_VOLUME_ID", `${field} must be at most ${DESCRIPTOR_TEXT_MAX} printable ASCII characters`);
  }
  return value;
}

function isPrintableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function newDir(name: string, parent: DirNode | null): DirNode {
  return {
    kind: "dir",
    name,
    parent,
    children: new Map(),
    level1Id: "",
    jolietId: "",
    primaryRecordLength: 0,
    nameContinuation: null,
    primaryChildren: [],
    jolietChildren: [],
    subdirectoryCount: 0,
    primaryExtent: 0,
    primarySectors: 0,
    primaryNumber: 0,
    jolietExtent: 0,
    jolietSectors: 0,
    jolietNumber: 0,
  };
}

function buildTree(files: IsoFile[], limits: IsoLimits): DirNode {
  if (!Array.isArray(files)) throw new IsoError("ISO_BAD_PATH", "files must be an array");
  if (files.length > limits.maxFiles) {
    throw new IsoError("ISO_LIMIT", `${files.length} files exceed the limit of ${limits.maxFiles}`);
  }
  const nameMax = Math.min(limits.maxNameLength, ROCK_RIDGE_NAME_MAX);
  const root = newDir("", null);
  let totalBytes = 0;
  for (const file of files) {
    const path = file.path;
    const segments = validatePath(path, nameMax, limits.maxPathDepth);
    if (!(file.data instanceof Uint8Array)) {
      throw new IsoError("ISO_BAD_PATH", `data for "${path}" must be a Uint8Array`);
    }
    if (file.data.length > 0xffffffff) {
      throw new IsoError("ISO_LIMIT", `"${path}" is larger than the 4 GiB an ISO 9660 extent can hold`);
    }
    totalBytes += file.data.length;
    if (totalBytes > limits.maxTotalBytes) {
      throw new IsoError("ISO_LIMIT", `total file size exceeds the limit of ${limits.maxTotalBytes} bytes at "${path}"`);
    }
    let dir = root;
    for (let i = 0; i < segments.length - 1; i++) {
      const segment = segments[i] as string;
      const existing = dir.children.get(segment);
      if (existing === undefined) {
        const created = newDir(segment, dir);
        dir.children.set(segment, created);
        dir.subdirectoryCount++;
        dir = created;
      } else if (existing.kind === "dir") {
        dir = existing;
      } else {
        throw new IsoError(
          "ISO_DUPLICATE_PATH",
          `"${segments.slice(0, i + 1).join("/")}" is both a file and a directory (needed by "${path}")`,
        );
      }
    }
    const leaf = segments[segments.length - 1] as string;
    const existing = dir.children.get(leaf);
    if (existing !== undefined) {
      throw new IsoError(
        "ISO_DUPLICATE_PATH",
        existing.kind === "dir" ? `"${path}" is both a file and a directory` : `duplicate path "${path}"`,
      );
    }
    dir.children.set(leaf, {
      kind: "file",
      name: leaf,
      data: file.data,
      level1Id: "",
      jolietId: "",
      primaryRecordLength: 0,
      nameContinuation: null,
      extent: 0,
    });
  }
  return root;
}

function validatePath(path: unknown, nameMax: number, maxDepth: number): string[] {
  if (typeof path !== "string" || path.length === 0) {
    throw new IsoError("ISO_BAD_PATH", `file path must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  if (path.startsWith("/")) {
    throw new IsoError("ISO_BAD_PATH", `"${path}" must be relative (no leading "/")`);
  }
  const segments = path.split("/");
  for (const segment of segments) {
    if (segment.length === 0) throw new IsoError("ISO_BAD_PATH", `"${path}" contains an empty path segment`);
    if (segment === "." || segment === "..") {
      throw new IsoError("ISO_BAD_PATH", `"${path}" contains a "${segment}" segment`);
    }
    if (!isPrintableAscii(segment)) {
      throw new IsoError(
        "ISO_BAD_PATH",
        `${JSON.stringify(path)} contains a character outside printable ASCII (0x20-0x7E)`,
      );
    }
    if (segment.length > nameMax) {
      throw new IsoError("ISO_LIMIT", `name "${segment}" in "${path}" is longer than ${nameMax} characters`);
    }
  }
  if (segments.length > maxDepth) {
    throw new IsoError("ISO_LIMIT", `"${path}" is ${segments.length} levels deep; the limit is ${maxDepth}`);
  }
  return segments;
}

function collectDirectories(dir: DirNode, out: DirNode[]): void {
  out.push(dir);
  for (const child of dir.children.values()) if (child.kind === "dir") collectDirectories(child, out);
}

// ---------------------------------------------------------------------------------------------
// Identifiers

function byRockRidgeName(a: TreeNode, b: TreeNode): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

// Derives the level 1 and Joliet identifiers of a directory's children. Names that map to a
// unique identifier keep it; only the colliding ones are mangled, in name order, so the result
// does not depend on the order of the input files.
function assignIdentifiers(dir: DirNode): void {
  const children = [...dir.children.values()].sort(byRockRidgeName);

  const level1 = children.map((child) => level1Parts(child));
  const level1Taken = new Set<string>();
  const level1Pending: number[] = [];
  claimNaturalIds(
    children,
    (i) => level1Key((level1[i] as Level1Parts).base, (level1[i] as Level1Parts).ext),
    level1Taken,
    level1Pending,
  );
  for (const i of level1Pending) {
    const parts = level1[i] as Level1Parts;
    for (let n = 1; ; n++) {
      const suffix = String(n);
      const base = parts.base.slice(0, LEVEL1_BASE_MAX - suffix.length) + suffix;
      const key = level1Key(base, parts.ext);
      if (!level1Taken.has(key)) {
        level1Taken.add(key);
        parts.base = base;
        break;
      }
    }
  }
  children.forEach((child, i) => {
    const parts = level1[i] as Level1Parts;
    child.level1Id = child.kind === "dir" ? parts.base : `${parts.base}.${parts.ext};1`;
  });

  const joliet = children.map((child) => jolietParts(child));
  const jolietTaken = new Set<string>();
  const jolietPending: number[] = [];
  claimNaturalIds(children, (i) => (joliet[i] as JolietParts).base + (joliet[i] as JolietParts).ext, jolietTaken, jolietPending);
  for (const i of jolietPending) {
    const parts = joliet[i] as JolietParts;
    for (let n = 1; ; n++) {
      const suffix = `~${n}`;
      const base = parts.base.slice(0, JOLIET_NAME_MAX - parts.ext.length - suffix.length) + suffix;
      if (!jolietTaken.has(base + parts.ext)) {
        jolietTaken.add(base + parts.ext);
        parts.base = base;
        break;
      }
    }
  }
  children.forEach((child, i) => {
    const parts = joliet[i] as JolietParts;
    child.jolietId = parts.base + parts.ext;
  });

  dir.primaryChildren = children.slice().sort((a, b) => compareIdentifiers(a.level1Id, b.level1Id, a.kind === "file", b.kind === "file"));
  dir.jolietChildren = children.slice().sort((a, b) => compareIdentifiers(a.jolietId, b.jolietId, a.kind === "file", b.kind === "file"));
}

// Children whose derived identifier spells their name exactly (ignoring case) claim it first, so
// "a_b" keeps "a_b" even when "a:b" also maps there; the rest claim theirs in name order, and the
// indexes of those that lost to an earlier claim are returned for mangling.
function claimNaturalIds(children: TreeNode[], idOf: (i: number) => string, taken: Set<string>, pending: number[]): void {
  const exact: number[] = [];
  const derived: number[] = [];
  children.forEach((child, i) => (idOf(i).toUpperCase() === child.name.toUpperCase() ? exact : derived).push(i));
  for (const i of [...exact, ...derived]) {
    const id = idOf(i);
    if (taken.has(id)) pending.push(i);
    else taken.add(id);
  }
  pending.sort((a, b) => a - b);
}

interface Level1Parts {
  base: string;
  ext: string;
}

function level1Key(base: string, ext: string): string {
  return ext.length > 0 ? `${base}.${ext}` : base;
}

function toDCharacters(s: string): string {
  return s.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}

function level1Parts(node: TreeNode): Level1Parts {
  if (node.kind === "dir") return { base: toDCharacters(node.name).slice(0, LEVEL1_BASE_MAX), ext: "" };
  // A leading dot starts a hidden name, not an extension.
  const dot = node.name.lastIndexOf(".");
  if (dot <= 0) return { base: toDCharacters(node.name).slice(0, LEVEL1_BASE_MAX), ext: "" };
  return {
    base: toDCharacters(node.name.slice(0, dot)).slice(0, LEVEL1_BASE_MAX),
    ext: toDCharacters(node.name.slice(dot + 1)).slice(0, LEVEL1_EXT_MAX),
  };
}

interface JolietParts {
  base: string;
  ext: string; // includes the leading "."; kept intact when a long name is shortened
}

function jolietParts(node: TreeNode): JolietParts {
  // Characters Joliet forbids in identifiers.
  const name = node.name.replace(/[*:;?\\]/g, "_");
  const dot = node.kind === "file" ? name.lastIndexOf(".") : -1;
  const hasExtension = dot > 0 && name.length - dot <= 16;
  const base = hasExtension ? name.slice(0, dot) : name;
  const ext = hasExtension ? name.slice(dot) : "";
  return { base: base.slice(0, JOLIET_NAME_MAX - ext.length), ext };
}

// ECMA-119 9.3: file name then extension, each compared as if padded with spaces (0x20); all
// versions here are 1. Directory identifiers have no extension.
function compareIdentifiers(a: string, b: string, aIsFile: boolean, bIsFile: boolean): number {
  const [aName, aExt] = splitIdentifier(a, aIsFile);
  const [bName, bExt] = splitIdentifier(b, bIsFile);
  return comparePadded(aName, bName) || comparePadded(aExt, bExt);
}

function splitIdentifier(id: string, isFile: boolean): [string, string] {
  if (!isFile) return [id, ""];
  const semicolon = id.lastIndexOf(";");
  const withoutVersion = semicolon >= 0 && id.endsWith(";1") ? id.slice(0, semicolon) : id;
  const dot = withoutVersion.lastIndexOf(".");
  if (dot < 0) return [withoutVersion, ""];
  return [withoutVersion.slice(0, dot), withoutVersion.slice(dot + 1)];
}

function comparePadded(a: string, b: string): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const ca = i < a.length ? a.charCodeAt(i) : 0x20;
    const cb = i < b.length ? b.charCodeAt(i) : 0x20;
    if (ca !== cb) return ca - cb;
  }
  return 0;
}

// ECMA-119 6.9.1: path table order is by level, then parent directory number, then identifier,
// which is exactly a breadth-first walk over children already sorted by identifier.
function pathTableOrder(root: DirNode, childrenOf: (d: DirNode) => TreeNode[]): DirNode[] {
  const order: DirNode[] = [root];
  for (let i = 0; i < order.length; i++) {
    for (const child of childrenOf(order[i] as DirNode)) if (child.kind === "dir") order.push(child);
  }
  return order;
}

// ---------------------------------------------------------------------------------------------
// Sizes and placement

function sectorsFor(bytes: number): number {
  return Math.ceil(bytes / SECTOR);
}

function allocateContinuation(state: { sectors: number; used: number }, length: number): ContinuationArea {
  if (state.used + length > SECTOR) {
    state.sectors++;
    state.used = 0;
  }
  const area = { sector: state.sectors - 1, offset: state.used, length };
  state.used += length;
  return area;
}

function baseRecordLength(idLength: number): number {
  // The identifier is followed by a padding byte when its length is even.
  return 33 + idLength + (idLength % 2 === 0 ? 1 : 0);
}

function evenLength(n: number): number {
  return n + (n & 1);
}

function nameEntriesLength(nameLength: number): number {
  return nameLength <= NM_CHUNK_MAX ? NM_HEADER + nameLength : 2 * NM_HEADER + nameLength;
}

function sizePrimaryRecord(node: TreeNode, continuation: { sectors: number; used: number }): void {
  const base = baseRecordLength(node.level1Id.length);
  const inline = evenLength(base + NAMED_SU_FIXED + nameEntriesLength(node.name.length));
  if (inline <= MAX_DIRECTORY_RECORD) {
    node.primaryRecordLength = inline;
    node.nameContinuation = null;
  } else {
    node.primaryRecordLength = evenLength(base + NAMED_SU_FIXED + CE_LEN);
    node.nameContinuation = allocateContinuation(continuation, nameEntriesLength(node.name.length));
  }
}

function primaryRecordLengths(dir: DirNode): number[] {
  const dotLength = evenLength(34 + (dir.parent === null ? ROOT_DOT_SU_LEN : DOT_SU_LEN));
  const lengths = [dotLength, evenLength(34 + DOT_SU_LEN)];
  for (const child of dir.primaryChildren) lengths.push(child.primaryRecordLength);
  return lengths;
}

function jolietRecordLength(node: TreeNode): number {
  return baseRecordLength(node.jolietId.length * 2);
}

function jolietRecordLengths(dir: DirNode): number[] {
  const lengths = [34, 34];
  for (const child of dir.jolietChildren) lengths.push(jolietRecordLength(child));
  return lengths;
}

// Directory records never cross a sector boundary (ECMA-119 6.8.1.1); a record that does not fit
// starts the next sector and the rest of the current one stays zero.
function layoutSectors(lengths: number[]): number {
  let offset = 0;
  for (const length of lengths) {
    if ((offset % SECTOR) + length > SECTOR) offset += SECTOR - (offset % SECTOR);
    offset += length;
  }
  return Math.max(1, sectorsFor(offset));
}

function pathTableSize(order: DirNode[], idLength: (d: DirNode) => number): number {
  let size = 0;
  for (const dir of order) {
    const length = dir.parent === null ? 1 : idLength(dir);
    size += 8 + length + (length & 1);
  }
  return size;
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

function writeBoth32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = (value >>> 16) & 0xff;
  buf[offset + 3] = (value >>> 24) & 0xff;
  buf[offset + 4] = (value >>> 24) & 0xff;
  buf[offset + 5] = (value >>> 16) & 0xff;
  buf[offset + 6] = (value >>> 8) & 0xff;
  buf[offset + 7] = value & 0xff;
}

function writeBoth16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}

function write32(buf: Uint8Array, offset: number, value: number, littleEndian: boolean): void {
  if (littleEndian) {
    buf[offset] = value & 0xff;
    buf[offset + 1] = (value >>> 8) & 0xff;
    buf[offset + 2] = (value >>> 16) & 0xff;
    buf[offset + 3] = (value >>> 24) & 0xff;
  } else {
    buf[offset] = (value >>> 24) & 0xff;
    buf[offset + 1] = (value >>> 16) & 0xff;
    buf[offset + 2] = (value >>> 8) & 0xff;
    buf[offset + 3] = value & 0xff;
  }
}

function write16(buf: Uint8Array, offset: number, value: number, littleEndian: boolean): void {
  buf[offset] = littleEndian ? value & 0xff : (value >>> 8) & 0xff;
  buf[offset + 1] = littleEndian ? (value >>> 8) & 0xff : value & 0xff;
}

function writeAscii(buf: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) buf[offset + i] = text.charCodeAt(i);
}

// Fixed-width a-/d-character field, padded with spaces.
function writePaddedAscii(buf: Uint8Array, offset: number, text: string, width: number): void {
  buf.fill(0x20, offset, offset + width);
  writeAscii(buf, offset, text.slice(0, width));
}

function writeUcs2(buf: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    buf[offset + 2 * i] = c >>> 8;
    buf[offset + 2 * i + 1] = c & 0xff;
  }
}

// Fixed-width Joliet field: UCS-2 big-endian, padded with U+0020.
function writePaddedUcs2(buf: Uint8Array, offset: number, text: string, width: number): void {
  for (let i = 0; i < width; i += 2) {
    buf[offset + i] = 0x00;
    buf[offset + i + 1] = 0x20;
  }
  writeUcs2(buf, offset, text.slice(0, Math.floor(width / 2)));
}

interface EncodedTimestamp {
  directory: Uint8Array; // 7-byte directory record form, also used by Rock Ridge TF
  descriptor: Uint8Array; // 17-byte volume descriptor form
}

function encodeTimestamp(date: Date): EncodedTimestamp {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new RangeError("timestamp must be a valid Date");
  }
  const year = date.getUTCFullYear();
  // The directory record stores years since 1900 in one byte.
  if (year < 1900 || year > 2155) {
    throw new RangeError(`timestamp year ${year} is outside the 1900-2155 range ISO 9660 can record`);
  }
  const month = date.getUTCMonth() + 1;
  const day = date.getUTCDate();
  const hour = date.getUTCHours();
  const minute = date.getUTCMinutes();
  const second = date.getUTCSeconds();
  const hundredths = Math.floor(date.getUTCMilliseconds() / 10);
  // All times are recorded in UTC, so the offset-from-GMT byte is 0.
  const directory = Uint8Array.of(year - 1900, month, day, hour, minute, second, 0);
  const digits = (n: number, width: number) => String(n).padStart(width, "0");
  const text =
    digits(year, 4) + digits(month, 2) + digits(day, 2) + digits(hour, 2) + digits(minute, 2) + digits(second, 2) + digits(hundredths, 2);
  const descriptor = new Uint8Array(17);
  writeAscii(descriptor, 0, text);
  return { directory, descriptor };
}

// "Not specified" per ECMA-119 8.4.26.1: sixteen ASCII zeros and a zero offset.
const UNSPECIFIED_DESCRIPTOR_DATE = (() => {
  const d = new Uint8Array(17);
  d.fill(0x30, 0, 16);
  return d;
})();

function primaryIdBytes(dir: DirNode, buf: Uint8Array, offset: number): number {
  writeAscii(buf, offset, dir.level1Id);
  return dir.level1Id.length;
}

function jolietIdBytes(dir: DirNode, buf: Uint8Array, offset: number): number {
  writeUcs2(buf, offset, dir.jolietId);
  return dir.jolietId.length * 2;
}

function writePathTable(
  buf: Uint8Array,
  start: number,
  order: DirNode[],
  littleEndian: boolean,
  extentOf: (d: DirNode) => number,
  numberOf: (d: DirNode) => number,
  writeId: (d: DirNode, buf: Uint8Array, offset: number) => number,
): void {
  let offset = start;
  for (const dir of order) {
    let idLength: number;
    if (dir.parent === null) {
      buf[offset + 8] = 0;
      idLength = 1;
    } else {
      idLength = writeId(dir, buf, offset + 8);
    }
    buf[offset] = idLength;
    buf[offset + 1] = 0;
    write32(buf, offset + 2, extentOf(dir), littleEndian);
    write16(buf, offset + 6, dir.parent === null ? 1 : numberOf(dir.parent), littleEndian);
    offset += 8 + idLength + (idLength & 1);
  }
}

function writeTerminator(buf: Uint8Array, offset: number): void {
  buf[offset] = 255;
  writeAscii(buf, offset + 1, "CD001");
  buf[offset + 6] = 1;
}

interface VolumeDescriptorFields {
  type: 1 | 2;
  joliet: boolean;
  volumeId: string;
  publisherId: string;
  applicationId: string;
  totalSectors: number;
  pathTableSize: number;
  lTable: number;
  mTable: number;
  rootExtent: number;
  rootBytes: number;
}


/**
 * Hands out places for directory records one after another from `start`, moving to the next
 * sector whenever a record would cross a sector boundary (ECMA-119 forbids that).
 */
function recordPlacer(start: number): (length: number) => number {
  let offset = 0;
  return (length) => {
    if ((offset % SECTOR) + length > SECTOR) offset += SECTOR - (offset % SECTOR);
    const at = start + offset;
    offset += length;
    return at;
  };
}

class ImageWriter {
  private readonly pxFile: Uint8Array;
  private readonly tf: Uint8Array;

  constructor(
    private readonly buf: Uint8Array,
    private readonly stamp: EncodedTimestamp,
  ) {
    this.pxFile = encodePx(MODE_FILE, 1);
    this.tf = new Uint8Array(TF_LEN);
    writeAscii(this.tf, 0, "TF");
    this.tf[2] = TF_LEN;
    this.tf[3] = 1;
    this.tf[4] = 0x0e; // modify, access, attributes
    for (let i = 0; i < 3; i++) this.tf.set(stamp.directory, 5 + 7 * i);
  }

  writeVolumeDescriptor(at: number, f: VolumeDescriptorFields): void {
    const buf = this.buf;
    buf[at] = f.type;
    writeAscii(buf, at + 1, "CD001");
    buf[at + 6] = 1;
    const text = f.joliet ? writePaddedUcs2 : writePaddedAscii;
    text(buf, at + 8, "", 32); // system identifier
    if (f.joliet) writePaddedUcs2(buf, at + 40, f.volumeId.slice(0, JOLIET_VOLUME_ID_CHARS), 32);
    else writePaddedAscii(buf, at + 40, f.volumeId, 32);
    writeBoth32(buf, at + 80, f.totalSectors);
    if (f.joliet) {
      // UCS-2 level 3 escape sequence, which identifies the Joliet tree.
      buf[at + 88] = 0x25;
      buf[at + 89] = 0x2f;
      buf[at + 90] = 0x45;
    }
    writeBoth16(buf, at + 120, 1); // volume set size
    writeBoth16(buf, at + 124, 1); // volume sequence number
    writeBoth16(buf, at + 128, SECTOR);
    writeBoth32(buf, at + 132, f.pathTableSize);
    write32(buf, at + 140, f.lTable, true);
    write32(buf, at + 148, f.mTable, false);
    this.writeBareRecord(at + 156, f.rootExtent, f.rootBytes, 0);
    text(buf, at + 190, "", 128); // volume set
    text(buf, at + 318, f.publisherId, 128);
    text(buf, at + 446, "", 128); // data preparer
    text(buf, at + 574, f.applicationId, 128);
    text(buf, at + 702, "", 37); // copyright file
    text(buf, at + 739, "", 37); // abstract file
    text(buf, at + 776, "", 37); // bibliographic file
    buf.set(this.stamp.descriptor, at + 813); // creation
    buf.set(this.stamp.descriptor, at + 830); // modification
    buf.set(UNSPECIFIED_DESCRIPTOR_DATE, at + 847); // expiration
    buf.set(this.stamp.descriptor, at + 864); // effective
    buf[at + 881] = 1; // file structure version
  }

  // A 34-byte record with a one-byte identifier (0 for ".", 1 for "..") and no system use.
  private writeBareRecord(at: number, extent: number, bytes: number, id: number): void {
    this.writeRecordHeader(at, 34, extent, bytes, FLAG_DIRECTORY, 1);
    this.buf[at + 33] = id;
  }

  private writeRecordHeader(at: number, length: number, extent: number, bytes: number, flags: number, idLength: number): void {
    const buf = this.buf;
    buf[at] = length;
    buf[at + 1] = 0;
    writeBoth32(buf, at + 2, extent);
    writeBoth32(buf, at + 10, bytes);
    buf.set(this.stamp.directory, at + 18);
    buf[at + 25] = flags;
    writeBoth16(buf, at + 28, 1); // volume sequence number
    buf[at + 32] = idLength;
  }

  writeErEntry(at: number): void {
    const buf = this.buf;
    writeAscii(buf, at, "ER");
    buf[at + 2] = ER_LEN;
    buf[at + 3] = 1;
    buf[at + 4] = ER_ID.length;
    buf[at + 5] = ER_DESCRIPTOR.length;
    buf[at + 6] = ER_SOURCE.length;
    buf[at + 7] = 1; // extension version
    writeAscii(buf, at + 8, ER_ID);
    writeAscii(buf, at + 8 + ER_ID.length, ER_DESCRIPTOR);
    writeAscii(buf, at + 8 + ER_ID.length + ER_DESCRIPTOR.length, ER_SOURCE);
  }

  writePrimaryDirectory(dir: DirNode, erArea: ContinuationArea | null): void {
    const buf = this.buf;
    const start = dir.primaryExtent * SECTOR;
    const lengths = primaryRecordLengths(dir);
    const parent = dir.parent ?? dir;
    const place = recordPlacer(start);

    // "." — the root's carries SP (which must come first) and the CE pointing at the ER entry.
    let at = place(lengths[0] as number);
    this.writeRecordHeader(at, lengths[0] as number, dir.primaryExtent, dir.primarySectors * SECTOR, FLAG_DIRECTORY, 1);
    buf[at + 33] = 0;
    let su = at + 34;
    if (erArea) {
      writeAscii(buf, su, "SP");
      buf[su + 2] = SP_LEN;
      buf[su + 3] = 1;
      buf[su + 4] = 0xbe;
      buf[su + 5] = 0xef;
      buf[su + 6] = 0; // no bytes skipped before system use entries
      su += SP_LEN;
    }
    su = this.writeRr(su, RR_FLAG_PX | RR_FLAG_TF);
    su = this.writeDirPx(su, dir);
    su = this.writeTf(su);
    if (erArea) this.writeCe(su, erArea);

    // ".."
    at = place(lengths[1] as number);
    this.writeRecordHeader(at, lengths[1] as number, parent.primaryExtent, parent.primarySectors * SECTOR, FLAG_DIRECTORY, 1);
    buf[at + 33] = 1;
    su = this.writeRr(at + 34, RR_FLAG_PX | RR_FLAG_TF);
    su = this.writeDirPx(su, parent);
    this.writeTf(su);

    for (const child of dir.primaryChildren) {
      const length = child.primaryRecordLength;
      at = place(length);
      const id = child.level1Id;
      if (child.kind === "dir") {
        this.writeRecordHeader(at, length, child.primaryExtent, child.primarySectors * SECTOR, FLAG_DIRECTORY, id.length);
      } else {
        this.writeRecordHeader(at, length, child.extent, child.data.length, 0, id.length);
      }
      writeAscii(buf, at + 33, id);
      su = at + baseRecordLength(id.length);
      su = this.writeRr(su, RR_FLAG_PX | RR_FLAG_TF | RR_FLAG_NM);
      const area = child.nameContinuation;
      if (area === null) su = this.writeNm(su, child.name);
      su = child.kind === "dir" ? this.writeDirPx(su, child) : this.writeFilePx(su);
      su = this.writeTf(su);
      if (area !== null) {
        this.writeCe(su, area);
        this.writeNm(area.sector * SECTOR + area.offset, child.name);
      }
    }
  }

  writeJolietDirectory(dir: DirNode): void {
    const buf = this.buf;
    const start = dir.jolietExtent * SECTOR;
    const parent = dir.parent ?? dir;
    const place = recordPlacer(start);
    this.writeBareRecord(place(34), dir.jolietExtent, dir.jolietSectors * SECTOR, 0);
    this.writeBareRecord(place(34), parent.jolietExtent, parent.jolietSectors * SECTOR, 1);
    for (const child of dir.jolietChildren) {
      const length = jolietRecordLength(child);
      const at = place(length);
      const idLength = child.jolietId.length * 2;
      if (child.kind === "dir") {
        this.writeRecordHeader(at, length, child.jolietExtent, child.jolietSectors * SECTOR, FLAG_DIRECTORY, idLength);
      } else {
        this.writeRecordHeader(at, length, child.extent, child.data.length, 0, idLength);
      }
      writeUcs2(buf, at + 33, child.jolietId);
    }
  }

  private writeRr(at: number, flags: number): number {
    const buf = this.buf;
    buf[at] = 0x52; // "R"
    buf[at + 1] = 0x52; // "R"
    buf[at + 2] = RR_LEN;
    buf[at + 3] = 1;
    buf[at + 4] = flags;
    return at + RR_LEN;
  }

  private writeDirPx(at: number, dir: DirNode): number {
    // A directory links to itself, from its parent, and from each subdirectory's "..".
    this.buf.set(encodePx(MODE_DIRECTORY, 2 + dir.subdirectoryCount), at);
    return at + PX_LEN;
  }

  private writeFilePx(at: number): number {
    this.buf.set(this.pxFile, at);
    return at + PX_LEN;
  }

  private writeTf(at: number): number {
    this.buf.set(this.tf, at);
    return at + TF_LEN;
  }

  private writeCe(at: number, area: ContinuationArea): number {
    const buf = this.buf;
    writeAscii(buf, at, "CE");
    buf[at + 2] = CE_LEN;
    buf[at + 3] = 1;
    writeBoth32(buf, at + 4, area.sector);
    writeBoth32(buf, at + 12, area.offset);
    writeBoth32(buf, at + 20, area.length);
    return at + CE_LEN;
  }

  // Names longer than one NM entry can hold are split, with CONTINUE set on all but the last.
  private writeNm(at: number, name: string): number {
    const buf = this.buf;
    let rest = name;
    for (;;) {
      const chunk = rest.slice(0, NM_CHUNK_MAX);
      rest = rest.slice(chunk.length);
      buf[at] = 0x4e; // "N"
      buf[at + 1] = 0x4d; // "M"
      buf[at + 2] = NM_HEADER + chunk.length;
      buf[at + 3] = 1;
      buf[at + 4] = rest.length > 0 ? NM_FLAG_CONTINUE : 0;
      writeAscii(buf, at + NM_HEADER, chunk);
      at += NM_HEADER + chunk.length;
      if (rest.length === 0) return at;
    }
  }
}

function encodePx(mode: number, links: number): Uint8Array {
  const px = new Uint8Array(PX_LEN);
  writeAscii(px, 0, "PX");
  px[2] = PX_LEN;
  px[3] = 1;
  writeBoth32(px, 4, mode);
  writeBoth32(px, 12, links);
  // uid and gid stay 0: seed files belong to root inside the guest.
  return px;
}
