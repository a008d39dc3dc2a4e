// The server secret: 32 random bytes in the state directory, created on first start. Every seed
// token and agent credential is derived from it, so it is created once, never rewritten, and
// readable by the server's user only.
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempPathFor } from "./temp-files.ts";

export const SECRET_FILE = "server-secret";
export const SECRET_BYTES = 32;

export interface ServerSecret {
  bytes: Buffer;
  path: string;
  /** True when this call created it (first start). */
  created: boolean;
  /** Set when the file is readable by group or others: worth a warning, not a refusal. */
  looseMode?: number;
}

export class SecretError extends Error {}

export async function loadOrCreateSecret(stateDir: string): Promise<ServerSecret> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, SECRET_FILE);
  let created = false;
  try {
    await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    // Write a private temporary file, then link it into place: link() fails if another server
    // process won the race, so two first starts never end up with different secrets, and a
    // reader never sees a partly written file.
    const tmp = tempPathFor(path);
    await writeFile(tmp, randomBytes(SECRET_BYTES), { mode: 0o600, flag: "wx" });
    try {
      await link(tmp, path);
      created = true;
    } catch (linkErr) {
      if ((linkErr as NodeJS.ErrnoException).code !== "EEXIST") throw linkErr;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    if (created) await chmod(path, 0o600);
  }
  const bytes = await readFile(path);
  if (bytes.length !== SECRET_BYTES) {
    // Regenerating would silently invalidate every seed URL already handed to guests.
    throw new SecretError(`${path} holds ${bytes.length} bytes, not ${SECRET_BYTES}; restore it from a backup or remove it to start over (every seed URL changes)`);
  }
  const mode = (await stat(path)).mode & 0o777;
  return { bytes, path, created, ...(mode & 0o077 ? { looseMode: mode } : {}) };
}
