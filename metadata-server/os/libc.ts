// The libc functions the server calls through koffi, bound once on first use. Node has no
// SO_BINDTODEVICE, raw sockets, dup() or recvmmsg/sendmmsg; the DHCP/RA sockets (dhcp/socket.ts),
// batched DHCP datagram I/O (dhcp/datagram-batch.ts) and the HTTP acceptors (http/acceptors.ts)
// get them here. Errors are read with koffi.errno() right after a call.
import koffi from "koffi";

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  close(fd: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  recvfrom(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: Int32Array): number;
  /** recvmmsg(2) without a timeout: `vec` is a caller-built array of struct mmsghdr. */
  recvmmsg(fd: number, vec: Buffer, vlen: number, flags: number): number;
  /** sendmmsg(2): `vec` is a caller-built array of struct mmsghdr. */
  sendmmsg(fd: number, vec: Buffer, vlen: number, flags: number): number;
  /** fcntl(fd, F_DUPFD_CLOEXEC, 0): a new descriptor for the same open file, closed on exec. */
  dupCloexec(fd: number): number;
  ifNameToIndex(name: string): number;
  strerror(errno: number): string;
}

const F_DUPFD_CLOEXEC = 1030;

/** Linux values the socket code shares: an address family, a flag and the errno values it retries on. */
export const AF_INET = 2;
export const MSG_DONTWAIT = 0x40;
export const EINTR = 4;
export const EAGAIN = 11;

let libc: Libc | undefined;

export function getLibc(): Libc {
  if (libc) return libc;
  const lib = koffi.load("libc.so.6");
  const recvfrom = lib.func("long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, _Inout_ int *addrlen)");
  const setsockopt = lib.func("int setsockopt(int fd, int level, int name, const void *value, uint32_t len)");
  const bind = lib.func("int bind(int fd, const void *addr, uint32_t len)");
  const sendto = lib.func("long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)");
  const fcntl = lib.func("int fcntl(int fd, int cmd, int arg)");
  const recvmmsg = lib.func("int recvmmsg(int fd, void *vec, unsigned int vlen, int flags, void *timeout)");
  const sendmmsg = lib.func("int sendmmsg(int fd, void *vec, unsigned int vlen, int flags)");
  const strerror = lib.func("const char *strerror(int errnum)");
  libc = {
    socket: lib.func("int socket(int domain, int type, int protocol)"),
    setsockopt: (fd, level, name, value, len) => setsockopt(fd, level, name, value, len),
    bind: (fd, addr, len) => bind(fd, addr, len),
    close: lib.func("int close(int fd)"),
    sendto: (fd, buf, len, flags, addr, addrlen) => Number(sendto(fd, buf, len, flags, addr, addrlen)),
    recvfrom: (fd, buf, len, flags, addr, addrlen) => Number(recvfrom(fd, buf, len, flags, addr, addrlen)),
    recvmmsg: (fd, vec, vlen, flags) => recvmmsg(fd, vec, vlen, flags, null) as number,
    sendmmsg: (fd, vec, vlen, flags) => sendmmsg(fd, vec, vlen, flags) as number,
    dupCloexec: (fd) => fcntl(fd, F_DUPFD_CLOEXEC, 0) as number,
    ifNameToIndex: lib.func("unsigned int if_nametoindex(const char *name)"),
    strerror: (e) => strerror(e) as string,
  };
  return libc;
}
