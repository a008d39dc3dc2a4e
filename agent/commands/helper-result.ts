// qemu-ga's answers for a helper program it ran (shutdown, chpasswd, fsfreeze...): it could not be
// started, it was killed by a signal (!WIFEXITED), or it exited non-zero, in that order.
import { genericError } from "../protocol/errors.ts";
import type { RunResult } from "./env.ts";
import { strerror } from "./errno.ts";

/** Throws qemu-ga's error for a helper that did not succeed; `action` completes "failed to ...". */
export function throwIfHelperFailed(r: RunResult, action: string): void {
  if (r.spawnError) throw genericError(`failed to create child process, error: ${strerror(r.spawnError)}`);
  if (r.status === null) throw genericError("child process has terminated abnormally");
  if (r.status !== 0) throw genericError(`child process has failed to ${action}`);
}
