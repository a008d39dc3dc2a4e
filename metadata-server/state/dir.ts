// Where the server keeps its state (the secret, the guest store, DHCP leases) when not told.
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const SYSTEM_STATE_DIR = "/var/lib/guestlink";
export const LOCAL_STATE_DIR = ".guestlink-state";

/**
 * The state directory when none is given: an explicit environment variable, then systemd's
 * StateDirectory=, then the system location if this user may write it, else a directory in the
 * working directory (a development checkout), which gets a .gitignore of its own.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { dir: string; local: boolean } {
  if (env.GUESTLINK_STATE_DIR) return { dir: env.GUESTLINK_STATE_DIR, local: false };
  if (env.STATE_DIRECTORY) return { dir: env.STATE_DIRECTORY.split(":")[0]!, local: false };
  try {
    accessSync(SYSTEM_STATE_DIR, constants.W_OK);
    return { dir: SYSTEM_STATE_DIR, local: false };
  } catch {
    return { dir: join(cwd, LOCAL_STATE_DIR), local: true };
  }
}

/** Keeps a state directory inside a checkout out of version control without touching the checkout's files. */
export function ensureLocalStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ignore = join(dir, ".gitignore");
  if (!existsSync(ignore)) writeFileSync(ignore, "# guestlink state (the server secret): never commit it\n*\n", { mode: 0o600 });
}
