// Finds and reads the user-data templates (cloud-init-templates/*.yaml). This is I/O at the edge:
// the resolver receives the templates as a name -> text map.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

/** The bundled templates next to the program, then the working tree, then the packaged copy. */
export function defaultTemplatesDir(): string | undefined {
  const candidates = [
    process.env.GUESTLINK_TEMPLATES,
    process.argv[1] ? join(dirname(resolve(process.argv[1])), "..", "cloud-init-templates") : undefined,
    join(process.cwd(), "cloud-init-templates"),
    "/usr/share/guestlink/cloud-init-templates",
  ];
  return candidates.find((c): c is string => c !== undefined && existsSync(c));
}

export async function loadTemplates(dir: string | undefined = defaultTemplatesDir()): Promise<Record<string, string>> {
  if (!dir) return {};
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) {
    if (!f.endsWith(".yaml")) continue;
    out[f.slice(0, -".yaml".length)] = await readFile(join(dir, f), "utf8");
  }
  return out;
}
