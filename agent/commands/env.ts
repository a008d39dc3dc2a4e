// What commands may touch, injected: the file-system root of collectors, a process executor, a clock.
// Tests swap the executor for a stub, so shutdown, fsfreeze, set-time and chpasswd are testable safely.
import type { FsRoot } from "../collectors/fsroot.ts";
import type { Dispatcher } from "../dispatch/dispatcher.ts";
import type { OsAddressSource } from "../collectors/network.ts";

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  status: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  /** Set when the program could not be started at all (ENOENT...). */
  spawnError?: NodeJS.ErrnoException;
}

export interface Executor {
  /** Run a program to completion (for helpers such as fsfreeze, fstrim, chpasswd, shutdown). */
  run(file: string, args: readonly string[], opts?: { input?: Buffer | string; env?: Record<string, string> }): Promise<RunResult>;
  /** Whether a helper program exists in PATH (decides "not currently supported"). */
  which(file: string): string | undefined;
}

export interface Clock {
  /** Nanoseconds since the epoch. */
  nowNs(): bigint;
}

export interface AgentLimits {
  /** guest-file-read refuses a larger count (qemu-ga: QGA_READ_COUNT_MAX, 48 MiB). */
  fileReadMax: number;
  /** guest-exec keeps at most this many bytes per captured stream (qemu-ga: GUEST_EXEC_MAX_OUTPUT, 16 MiB). */
  execCaptureMax: number;
}

export const DEFAULT_AGENT_LIMITS: AgentLimits = {
  fileReadMax: 48 * 1024 * 1024,
  execCaptureMax: 16 * 1024 * 1024,
};

export interface AgentEnv {
  fs: FsRoot;
  exec: Executor;
  clock: Clock;
  limits: AgentLimits;
  stateDir: string;
  /** os-release location, overridable like qemu-ga's QGA_OS_RELEASE environment variable. */
  osReleasePath: string;
  /** Version string guest-info reports. */
  version: string;
  /** Address source for network commands (os.networkInterfaces by default). */
  addressSource?: OsAddressSource;
  /** Set after the dispatcher is built; guest-info and fsfreeze need it. */
  dispatcher?: Dispatcher<AgentEnv>;
}
