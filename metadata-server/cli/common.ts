// Shared pieces of the command line: exit codes, usage errors, and loading an inventory with its
// issues printed the way compilers print theirs (file:line:col: path: message [CODE]).
import { loadSiteFile, type SiteLoad } from "../inventory/load.ts";
import { formatIssue } from "../inventory/issues.ts";
import type { ResolvedSite, ResolvedVm } from "../model/types.ts";

export const EXIT_OK = 0;
/** The input is wrong (invalid inventory, unknown VM): fix the data. */
export const EXIT_INVALID = 1;
/** The command line is wrong: fix the call. */
export const EXIT_USAGE = 2;

export class UsageError extends Error {}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export async function loadOrReport(path: string, io: Io, templatesDir?: string): Promise<SiteLoad & { site?: ResolvedSite }> {
  const loaded = await loadSiteFile(path, templatesDir ? { templatesDir } : {});
  if (loaded.issues.length) {
    for (const issue of loaded.issues) io.err(formatIssue(issue) + "\n");
    io.err(`${path}: ${loaded.issues.length} problem${loaded.issues.length === 1 ? "" : "s"} found\n`);
  }
  return loaded;
}

/** Finds a VM by name or id (ids compare case-insensitively, as UUIDs do). */
export function findVm(site: ResolvedSite, nameOrId: string): ResolvedVm | undefined {
  const lower = nameOrId.toLowerCase();
  return site.vms.find((v) => v.name === nameOrId) ?? site.vms.find((v) => v.id === lower);
}
