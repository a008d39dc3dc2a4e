// More than one accept per event-loop turn.
//
// Since libuv 1.45 (Node 20) a listening handle accepts exactly one connection per event-loop
// turn and waits for the next epoll report for the next one (libuv pull request 3696). Under
// load a turn of this server handles a hundred or more ready sockets and takes milliseconds,
// so a burst of new connections drains from the kernel's accept queue at one per turn: 256
// guests connecting at once waited up to a second to be accepted while the kernel had already
// completed their handshakes, and their first request waited with them. This was the whole of
// the p99 the benchmark measured (docs/http.md, "Latency under load").
//
// The fix keeps libuv's behaviour and gives it more handles: each extra acceptor is a duplicate
// of the listening descriptor (fcntl F_DUPFD_CLOEXEC, os/libc.ts; Node has no dup), watched
// by its own net.Server, so every turn accepts up to `count` connections. Accepted sockets are
// handed to the HTTP server with its 'connection' event, the documented way to give node:http a
// socket. The duplicates share the one listening socket: closing them all stops the listening,
// which is why `close` must reach every one.
import { createServer, type Server, type Socket } from "node:net";
import koffi from "koffi";
import { getLibc } from "../os/libc.ts";

function duplicate(fd: number): number {
  const copy = getLibc().dupCloexec(fd);
  if (copy < 0) throw new Error(`fcntl(F_DUPFD_CLOEXEC): ${getLibc().strerror(koffi.errno())}`);
  return copy;
}

/** The listening descriptor of a bound server, where the platform exposes one. */
function listeningFd(server: Server): number | undefined {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * Adds `count - 1` acceptors to a listening server. Each forwards its connections to `server`
 * as 'connection' events, with the socket options the server's own accepts get (`noDelay`).
 * Returns them so the caller can close them with the server. If the descriptor cannot be
 * duplicated (no fd on this platform, no libc), it returns none: the server still works, one
 * accept per turn.
 */
export async function addAcceptors(server: Server, count: number, options: { noDelay: boolean }, onError: (err: Error) => void): Promise<Server[]> {
  const fd = listeningFd(server);
  if (fd === undefined || count <= 1) return [];
  const acceptors: Server[] = [];
  try {
    for (let i = 1; i < count; i++) {
      const copy = duplicate(fd);
      const acceptor = createServer({ noDelay: options.noDelay }, (socket: Socket) => server.emit("connection", socket));
      acceptor.on("error", onError);
      acceptors.push(acceptor);
      await new Promise<void>((resolve, reject) => {
        acceptor.once("error", reject);
        acceptor.listen({ fd: copy }, () => { acceptor.off("error", reject); resolve(); });
      });
    }
  } catch (err) {
    onError(err as Error);
    for (const a of acceptors) a.close();
    return [];
  }
  return acceptors;
}
