// The time-zone abbreviation glib (and so qemu-ga) reports, read from the TZif file: ICU's short names
// differ ("GMT+1" where tzdata says "CET").
import type { FsRoot } from "./fsroot.ts";

interface TzInfo { utoff: number; abbr: string }

/** Types and transitions of a TZif file (the 64-bit block when present). */
export function parseTzif(data: Buffer): { transitions: number[]; idx: number[]; types: TzInfo[] } | undefined {
  if (data.length < 44 || data.toString("latin1", 0, 4) !== "TZif") return undefined;
  const counts = (off: number): number[] => [0, 1, 2, 3, 4, 5].map((i) => data.readUInt32BE(off + 20 + i * 4));
  let off = 0;
  let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0) as [number, number, number, number, number, number];
  let timeSize = 4;
  if (data[4] !== 0) {
    // Skip the 32-bit block: the version 2+ block after it has 64-bit times.
    off = 44 + timecnt * 4 + timecnt + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    if (data.length < off + 44 || data.toString("latin1", off, off + 4) !== "TZif") return undefined;
    [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(off) as [number, number, number, number, number, number];
    timeSize = 8;
  }
  let p = off + 44;
  const transitions: number[] = [];
  for (let i = 0; i < timecnt; i++, p += timeSize) transitions.push(timeSize === 8 ? Number(data.readBigInt64BE(p)) : data.readInt32BE(p));
  const idx: number[] = [];
  for (let i = 0; i < timecnt; i++) idx.push(data[p++]!);
  const raw: { utoff: number; abbrind: number }[] = [];
  for (let i = 0; i < typecnt; i++, p += 6) raw.push({ utoff: data.readInt32BE(p), abbrind: data[p + 5]! });
  const chars = data.subarray(p, p + charcnt);
  const types = raw.map((t) => {
    const end = chars.indexOf(0, t.abbrind);
    return { utoff: t.utoff, abbr: chars.toString("latin1", t.abbrind, end < 0 ? undefined : end) };
  });
  return { transitions, idx, types };
}

/**
 * Abbreviation in force at `nowSec` with UTC offset `offsetSec` (the offset itself comes from the JS
 * clock, which applies the zone's rules beyond the file's last transition correctly).
 */
export function tzAbbreviation(data: Buffer, nowSec: number, offsetSec: number): string | undefined {
  const tz = parseTzif(data);
  if (!tz || tz.types.length === 0) return undefined;
  let current: TzInfo | undefined;
  for (let i = tz.transitions.length - 1; i >= 0; i--) {
    if (tz.transitions[i]! <= nowSec) {
      current = tz.types[tz.idx[i]!];
      break;
    }
  }
  if (current && current.utoff === offsetSec) return current.abbr;
  // Past the last transition (the POSIX rule in the footer applies): the newest type with this offset.
  for (let i = tz.idx.length - 1; i >= 0; i--) {
    const t = tz.types[tz.idx[i]!];
    if (t && t.utoff === offsetSec) return t.abbr;
  }
  return tz.types.find((t) => t.utoff === offsetSec)?.abbr;
}

/** The TZif file glib would use: $TZ (a path, or a name under /usr/share/zoneinfo), else /etc/localtime. */
export function localTzFile(fs: FsRoot, tzEnv: string | undefined): Buffer | undefined {
  const tz = tzEnv?.startsWith(":") ? tzEnv.slice(1) : tzEnv;
  const path = !tz ? "/etc/localtime" : tz.startsWith("/") ? tz : `/usr/share/zoneinfo/${tz}`;
  return fs.readBinary(path);
}
