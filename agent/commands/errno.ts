// strerror() texts, so errors built from Node's error codes read like qemu-ga's (glibc) messages.
const STRERROR: Record<string, string> = {
  EPERM: "Operation not permitted", ENOENT: "No such file or directory", EIO: "Input/output error",
  EBADF: "Bad file descriptor", EACCES: "Permission denied", EEXIST: "File exists", ENOTDIR: "Not a directory",
  EISDIR: "Is a directory", EINVAL: "Invalid argument", EMFILE: "Too many open files", ENOSPC: "No space left on device",
  EROFS: "Read-only file system", ELOOP: "Too many levels of symbolic links", ENAMETOOLONG: "File name too long",
  ENXIO: "No such device or address", EAGAIN: "Resource temporarily unavailable", EBUSY: "Device or resource busy",
  ESPIPE: "Illegal seek", ENOTSUP: "Operation not supported", EOPNOTSUPP: "Operation not supported",
  ENODEV: "No such device", ETXTBSY: "Text file busy", EFBIG: "File too large",
};

export function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code && STRERROR[code]) return STRERROR[code]!;
  return e instanceof Error ? e.message : String(e);
}

/** qemu's base64 check: the alphabet, '=' only as 1-2 trailing padding chars, length a multiple of 4. */
export function decodeBase64Strict(s: string): Buffer | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, "base64");
}
