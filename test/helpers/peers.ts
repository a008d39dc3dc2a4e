// Running the real peer programs from tests. A missing peer is a failure with the package to
// install named, never a skip: a test that silently does not run proves nothing.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PACKAGES: Record<string, string> = {
  "/usr/bin/python3": "python3 (and cloud-init)",
  "cloud-init": "cloud-init",
  blkid: "util-linux",
  isoinfo: "genisoimage",
  genisoimage: "genisoimage",
  osirrox: "xorriso",
  xorriso: "xorriso",
  "qemu-ga": "qemu-guest-agent",
  "systemd-analyze": "systemd",
};

export function which(program: string): string | undefined {
  if (program.startsWith("/")) return existsSync(program) ? program : undefined;
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    const p = join(dir, program);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function requirePeer(program: string): string {
  const path = which(program);
  if (!path) {
    throw new Error(`peer program ${program} is not installed (Debian package: ${PACKAGES[program] ?? program}); run scripts/install-test-deps.sh`);
  }
  return path;
}

export interface RunResult { status: number | null; stdout: string; stderr: string }

export function run(program: string, args: string[], opts: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(requirePeer(program), args, { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `guestlink-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Debian's python3, which has the cloudinit package (a PATH python may be another build). */
export const SYSTEM_PYTHON = "/usr/bin/python3";
