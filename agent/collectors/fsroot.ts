// Every collector reads through an FsRoot, so tests point it at a fixture tree under test/fixtures/agent/.
import { readFileSync, readdirSync, readlinkSync, existsSync, opendirSync, openSync, readSync, closeSync } from "node:fs";
import { join } from "node:path";

const SCRATCH = Buffer.allocUnsafe(256 * 1024);

/**
 * Kernel-generated files that network-get-interfaces reads on every call. On the real root their
 * descriptors are kept open and re-read from offset 0 (the kernel regenerates them on each read, as
 * it does for any seq_file or sysfs attribute): one pread instead of open, read and close, which
 * matters at 20 us a system call in a small VM. A link that goes away makes the read fail with
 * ENODEV; the descriptor is then dropped and the path opened afresh.
 */
const HELD_PREFIXES = ["/proc/net/", "/sys/class/net/"];
const MAX_HELD = 64;
const RETRY = Symbol("retry");

export class FsRoot {
  private readonly held = new Map<string, number>();

  constructor(readonly root: string = "/") {}

  path(p: string): string {
    return this.root === "/" ? p : join(this.root, p);
  }

  /**
   * File contents, or undefined when it cannot be read (missing, EINVAL from a down link's speed...).
   * /proc and /sys files report size 0, which makes readFileSync loop with fresh buffers; one reused
   * scratch buffer and a plain read loop is several times cheaper for these small files.
   */
  read(p: string): string | undefined {
    if (this.root === "/" && HELD_PREFIXES.some((pre) => p.startsWith(pre))) {
      const held = this.readHeld(p);
      if (held !== RETRY) return held;
    }
    let fd = -1;
    try {
      fd = openSync(this.path(p), "r");
      let n = 0;
      for (;;) {
        const got = readSync(fd, SCRATCH, n, SCRATCH.length - n, null);
        if (got === 0) break;
        n += got;
        if (n === SCRATCH.length) {
          // Larger than the scratch buffer: read the whole file the ordinary way.
          closeSync(fd);
          fd = -1;
          return readFileSync(this.path(p), "utf8");
        }
      }
      return SCRATCH.toString("utf8", 0, n);
    } catch {
      return undefined;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  /**
   * Reads a held descriptor from offset 0: the text, undefined when the file cannot be read (a
   * missing file, EINVAL from a down link's speed: asked once, not twice), or RETRY for the
   * ordinary path (no room to hold more, or a held descriptor went stale, e.g. its link was
   * deleted and another took its name).
   */
  private readHeld(p: string): string | undefined | typeof RETRY {
    let fd = this.held.get(p);
    const fresh = fd === undefined;
    if (fd === undefined) {
      if (this.held.size >= MAX_HELD) return RETRY;
      try {
        fd = openSync(p, "r");
      } catch {
        return undefined;
      }
      this.held.set(p, fd);
    }
    try {
      let n = 0;
      for (;;) {
        const got = readSync(fd, SCRATCH, n, SCRATCH.length - n, n);
        if (got === 0) return SCRATCH.toString("utf8", 0, n);
        n += got;
        if (n === SCRATCH.length) break;
      }
    } catch {
      this.held.delete(p);
      try {
        closeSync(fd);
      } catch {
        // already unusable
      }
      return fresh ? undefined : RETRY;
    }
    // Larger than the scratch buffer: the ordinary path reads it whole.
    this.held.delete(p);
    closeSync(fd);
    return RETRY;
  }

  readBinary(p: string): Buffer | undefined {
    try {
      return readFileSync(this.path(p));
    } catch {
      return undefined;
    }
  }

  readTrim(p: string): string | undefined {
    const s = this.read(p);
    return s === undefined ? undefined : s.trim();
  }

  list(p: string): string[] {
    try {
      return readdirSync(this.path(p));
    } catch {
      return [];
    }
  }

  /** Directory entries in the kernel's readdir order (readdirSync sorts), for lists qemu-ga reports unsorted. */
  listUnsorted(p: string): string[] {
    try {
      const dir = opendirSync(this.path(p));
      const out: string[] = [];
      for (let e = dir.readSync(); e; e = dir.readSync()) out.push(e.name);
      dir.closeSync();
      return out;
    } catch {
      return [];
    }
  }

  readlink(p: string): string | undefined {
    try {
      return readlinkSync(this.path(p));
    } catch {
      return undefined;
    }
  }

  exists(p: string): boolean {
    return existsSync(this.path(p));
  }
}
