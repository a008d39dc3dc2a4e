// Durable file replacement, shared by everything that keeps state on disk (DHCP leases, the guest
// store): write a temporary file, fsync it, rename it over the old one, fsync the directory. A crash
// at any point leaves either the old complete file or the new complete file, never a torn one;
// a temporary file it leaves behind is removed at the next start (temp-files.ts).
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { tempPathFor } from "./temp-files.ts";

/** Writes data to path so that a crash at any point leaves the old or the new content intact. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
