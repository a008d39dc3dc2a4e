// Injected into the CommonJS bundles: the bundle file's own URL, standing in for import.meta.url
// in dependencies that ship only ESM (node-cron locates its daemon file with it).
import { pathToFileURL } from "node:url";

export const import_meta_url = pathToFileURL(__filename).href;
