// Every collector reads through an FsRoot, so tests point it at a fixture tree under test/fixtures/agent/.
import { readFileSync, readdirSync, readlinkSync, existsSync, opendirSync, openSync, readSync, closeSync } from "node:fs";
import { join } from "node:path";

const SCRATCH = Buffer.allocUnsafe(256 * 1024);

export class FsRoot {
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
