// guest-file-*: handles start at 1000 and the counter persists in the state directory (qga.state, the
// same keyfile qemu-ga keeps), so handles are never reused across agent restarts.
// Files are opened with O_NONBLOCK and keep it, as qemu-ga does: opening a FIFO nobody writes to (or a
// write-only one nobody reads) returns at once, and reads and writes answer EAGAIN instead of waiting, so
// no guest-file-* call can stall the commands after it. Pipes, sockets and terminals are read and written
// at the current offset rather than with pread/pwrite, which they refuse.
import { openSync, closeSync, readSync, writeSync, fstatSync, fsyncSync, readFileSync, writeFileSync, renameSync, constants } from "node:fs";
import { isatty } from "node:tty";
import { join } from "node:path";
import { defineCommand } from "../dispatch/registry.ts";
import { genericError, QgaErrors } from "../protocol/errors.ts";
import { strerror, decodeBase64Strict } from "./errno.ts";
import type { AgentEnv } from "./env.ts";

const MODES: Record<string, number> = {
  r: constants.O_RDONLY, rb: constants.O_RDONLY,
  w: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, wb: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
  a: constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, ab: constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND,
  "r+": constants.O_RDWR, "rb+": constants.O_RDWR, "r+b": constants.O_RDWR,
  "w+": constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, "wb+": constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC,
  "w+b": constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC,
  "a+": constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, "ab+": constants.O_RDWR | constants.O_CREAT | constants.O_APPEND,
  "a+b": constants.O_RDWR | constants.O_CREAT | constants.O_APPEND,
};

interface OpenFile {
  fd: number;
  pos: number;
  eof: boolean;
  append: boolean;
  /** A pipe, socket or character device: read and written where it stands, never at an offset. */
  stream: boolean;
  /** lseek() fails with ESPIPE (pipes, sockets, terminals). */
  unseekable: boolean;
  /** The last successful operation was a read: qemu-ga's stdio stream must seek before it may write. */
  reading: boolean;
}

/** The error lseek() gives on a pipe, as qemu-ga reports a failed fseek(). */
const ILLEGAL_SEEK = Object.assign(new Error("Illegal seek"), { code: "ESPIPE" });

export const FIRST_HANDLE = 1000;

export class FileHandles {
  private readonly open = new Map<string, OpenFile>();
  private counter: number;

  constructor(private readonly stateDir: string) {
    this.counter = this.loadCounter();
  }

  private statePath(): string {
    return join(this.stateDir, "qga.state");
  }

  private loadCounter(): number {
    try {
      const m = /^fd_counter=(\d+)$/m.exec(readFileSync(this.statePath(), "utf8"));
      const n = m ? Number(m[1]) : FIRST_HANDLE;
      return Number.isSafeInteger(n) && n >= FIRST_HANDLE ? n : FIRST_HANDLE;
    } catch {
      return FIRST_HANDLE;
    }
  }

  private saveCounter(): void {
    const tmp = `${this.statePath()}.tmp`;
    writeFileSync(tmp, `[global]\nfd_counter=${this.counter}\n`);
    renameSync(tmp, this.statePath());
  }

  add(f: OpenFile): number {
    const handle = this.counter;
    this.counter = this.counter >= Number.MAX_SAFE_INTEGER ? FIRST_HANDLE : this.counter + 1;
    try {
      this.saveCounter();
    } catch {
      // a read-only state dir costs persistence, not service
    }
    this.open.set(String(handle), f);
    return handle;
  }

  get(handle: number | bigint): OpenFile {
    const f = this.open.get(String(handle));
    if (!f) throw QgaErrors.handleNotFound(handle);
    return f;
  }

  remove(handle: number | bigint): OpenFile {
    const f = this.get(handle);
    this.open.delete(String(handle));
    return f;
  }
}

const handlesByEnv = new WeakMap<AgentEnv, FileHandles>();
export function fileHandles(env: AgentEnv): FileHandles {
  let h = handlesByEnv.get(env);
  if (!h) {
    h = new FileHandles(env.stateDir);
    handlesByEnv.set(env, h);
  }
  return h;
}

export const fileCommands = [
  defineCommand<AgentEnv>({
    name: "guest-file-open",
    run: (args, ctx) => {
      const path = args.path as string;
      const mode = (args.mode as string | undefined) ?? "r";
      const flags = MODES[mode];
      if (flags === undefined) throw genericError(`invalid file open mode '${mode}'`);
      let fd: number;
      let stream = false;
      let unseekable = false;
      try {
        fd = openSync(path, flags | constants.O_NONBLOCK | constants.O_NOCTTY, 0o600);
      } catch (e) {
        throw genericError(`failed to open file '${path}' (mode: '${mode}'): ${strerror(e)}`);
      }
      try {
        const st = fstatSync(fd);
        stream = st.isFIFO() || st.isSocket() || st.isCharacterDevice();
        unseekable = st.isFIFO() || st.isSocket() || (st.isCharacterDevice() && isatty(fd));
      } catch {
        // fstat on a descriptor we just opened does not fail in practice; treat it as a regular file
      }
      const append = (flags & constants.O_APPEND) !== 0;
      return fileHandles(ctx.env).add({ fd, pos: 0, eof: false, append, stream, unseekable, reading: false });
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-file-close",
    run: (args, ctx) => {
      const f = fileHandles(ctx.env).remove(args.handle as number);
      try {
        closeSync(f.fd);
      } catch (e) {
        throw genericError(`failed to close handle: ${strerror(e)}`);
      }
      return {};
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-file-read",
    run: (args, ctx) => {
      const f = fileHandles(ctx.env).get(args.handle as number);
      const count = args.count === undefined ? 4096 : Number(args.count);
      if (count < 0 || count > ctx.env.limits.fileReadMax) throw QgaErrors.invalidArgumentValue(String(args.count), "count");
      const buf = Buffer.alloc(count);
      let got = 0;
      try {
        while (got < count) {
          const n = readSync(f.fd, buf, got, count - got, f.stream ? null : f.pos);
          if (n === 0) break;
          got += n;
          f.pos += n;
        }
      } catch (e) {
        throw genericError(`failed to read file: ${strerror(e)}`);
      }
      // End of file is flagged when this read came up short, and only then: qemu-ga answers eof false again
      // once more data has arrived (a FIFO whose writer came back, a file that grew).
      f.eof = got < count;
      f.reading = true;
      return { count: got, "buf-b64": buf.subarray(0, got).toString("base64"), eof: f.eof };
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-file-write",
    run: (args, ctx) => {
      const f = fileHandles(ctx.env).get(args.handle as number);
      const data = decodeBase64Strict(args["buf-b64"] as string);
      if (!data) throw QgaErrors.base64Invalid();
      const count = args.count === undefined ? data.length : Number(args.count);
      if (count < 0 || count > data.length) throw QgaErrors.invalidArgumentValue(String(args.count), "count");
      if (f.reading) {
        // qemu-ga's fseek(fh, 0, SEEK_CUR) between a read and a write: only a pipe refuses it.
        if (f.unseekable) throw genericError(`failed to seek file: ${strerror(ILLEGAL_SEEK)}`);
        f.reading = false;
      }
      let written = 0;
      try {
        while (written < count) {
          const n = f.append || f.stream
            ? writeSync(f.fd, data, written, count - written)
            : writeSync(f.fd, data, written, count - written, f.pos);
          written += n;
          f.pos = f.append ? fstatSync(f.fd).size : f.pos + n;
        }
      } catch (e) {
        throw genericError(`failed to write to file: ${strerror(e)}`);
      }
      return { count: written, eof: f.eof };
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-file-seek",
    run: (args, ctx) => {
      const f = fileHandles(ctx.env).get(args.handle as number);
      const w = args.whence;
      let whence: number;
      if (typeof w === "string") whence = { set: 0, cur: 1, end: 2 }[w as "set" | "cur" | "end"];
      else {
        whence = Number(w);
        if (whence !== 0 && whence !== 1 && whence !== 2) throw genericError(`invalid whence code ${String(w)}`);
      }
      if (f.unseekable) throw genericError(`failed to seek file: ${strerror(ILLEGAL_SEEK)}`);
      const offset = Number(args.offset);
      let base = 0;
      try {
        base = whence === 0 ? 0 : whence === 1 ? f.pos : fstatSync(f.fd).size;
      } catch (e) {
        throw genericError(`failed to seek file: ${strerror(e)}`);
      }
      const pos = base + offset;
      if (pos < 0) throw genericError("failed to seek file: Invalid argument");
      f.pos = pos;
      f.eof = false; // fseek() clears the end-of-file indicator
      f.reading = false;
      return { position: pos, eof: false };
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-file-flush",
    run: (args, ctx) => {
      const f = fileHandles(ctx.env).get(args.handle as number);
      try {
        fsyncSync(f.fd);
      } catch (e) {
        // fflush() on a read-only stream succeeds; fsync may say EINVAL on special files: not an error either.
        if ((e as NodeJS.ErrnoException).code !== "EINVAL" && (e as NodeJS.ErrnoException).code !== "EBADF") {
          throw genericError(`failed to flush file: ${strerror(e)}`);
        }
      }
      return {};
    },
  }),
];
