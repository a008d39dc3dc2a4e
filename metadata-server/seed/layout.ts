// Seed layout: which files, with which bytes, make up one VM's seed in a given format. Pure; the
// CLI writes the result to a directory or hands it to the ISO 9660 writer.
import type { ResolvedVm } from "../model/types.ts";
import type { RenderContext } from "../render/context.ts";
import { SEED_FORMATS, type SeedFormatName } from "../render/registry.ts";
import { buildIso9660, type IsoFile } from "./iso9660.ts";

const encoder = new TextEncoder();

export function seedFiles(format: SeedFormatName, vm: ResolvedVm, ctx: RenderContext): IsoFile[] {
  // Documents that appear under several paths (ConfigDrive's latest/ and dated copies) are
  // rendered once and shared.
  const cache = new Map<SeedFormatName | string, Uint8Array>();
  return SEED_FORMATS[format].documents.map((doc) => {
    const key = doc.path.replace(/^openstack\/[^/]+\//, "openstack/*/");
    let data = cache.get(key);
    if (!data) cache.set(key, (data = encoder.encode(doc.render(vm, ctx))));
    return { path: doc.path, data };
  });
}

export function seedImage(format: SeedFormatName, vm: ResolvedVm, ctx: RenderContext, timestamp: Date): Uint8Array {
  return buildIso9660({ volumeId: SEED_FORMATS[format].volumeId, files: seedFiles(format, vm, ctx), timestamp });
}
