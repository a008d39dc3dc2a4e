// The long-running part of `guestlink dhcp`: load, serve, reload on SIGHUP and on file change,
// stop on SIGTERM/SIGINT. The inventory loader is a parameter so the CLI uses the YAML loader
// and tests can feed resolved sites directly.
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { ResolvedSite } from "../model/types.ts";
import { DhcpService, jsonLogger, type DhcpServiceOptions, type InterfaceSpec, type LogFn } from "./service.ts";

export interface SiteLoadResult {
  site?: ResolvedSite;
  issues: unknown[];
}

export interface DaemonOptions {
  load: () => Promise<SiteLoadResult>;
  /** File to watch for changes (the inventory); reload also happens on SIGHUP. */
  watchPath?: string;
  interfaces: InterfaceSpec[];
  /** Coalesces the burst of change events an editor's save produces, ms. */
  reloadDebounceMs?: number;
  service?: Partial<DhcpServiceOptions>;
  log?: LogFn;
}

/** Parses `IF` or `IF=NETWORK`. */
export function parseInterfaceSpec(text: string): InterfaceSpec | undefined {
  const [ifname, network, extra] = text.split("=");
  if (!ifname || extra !== undefined || !/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) return undefined;
  if (network !== undefined && network === "") return undefined;
  return network === undefined ? { ifname } : { ifname, network };
}

/** Runs until SIGTERM/SIGINT; resolves to the process exit code. */
export async function runDhcpDaemon(opts: DaemonOptions): Promise<number> {
  const log = opts.log ?? opts.service?.log ?? jsonLogger();
  const first = await opts.load().catch((e: unknown) => ({ site: undefined, issues: [String(e)] }) as SiteLoadResult);
  if (!first.site) {
    log("error", "inventory-invalid", { issues: first.issues });
    return 1;
  }
  let service: DhcpService;
  try {
    service = await DhcpService.start(first.site, opts.interfaces, { ...opts.service, log });
  } catch (e) {
    log("error", "start-failed", { error: e instanceof Error ? e.message : String(e) });
    return 1;
  }

  let reloading: Promise<void> = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      const r = await opts.load().catch((e: unknown) => ({ site: undefined, issues: [String(e)] }) as SiteLoadResult);
      if (!r.site) {
        // The last good inventory keeps being served.
        log("error", "reload-rejected", { why, issues: r.issues, serving: service.revision });
        return;
      }
      if (r.site.revision === service.revision) {
        log("debug", "reload-unchanged", { why, revision: r.site.revision });
        return;
      }
      service.reload(r.site, why);
    });
  };

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (opts.watchPath) {
    try {
      // Watch the directory, not the file: editors and config management replace the file by
      // renaming a new one over it, and a watch on the old inode would never fire again.
      const name = basename(opts.watchPath);
      watcher = watch(dirname(opts.watchPath), (_event, filename) => {
        if (filename !== null && filename.toString() !== name) return;
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(() => reload("file-changed"), opts.reloadDebounceMs ?? 300);
      });
    } catch (e) {
      log("warn", "watch-failed", { path: opts.watchPath, error: String(e) });
    }
  }

  return new Promise<number>((resolve) => {
    const onHup = () => reload("SIGHUP");
    const onStop = (signal: string) => {
      log("info", "stopping", { signal });
      process.off("SIGHUP", onHup);
      watcher?.close();
      if (debounce) clearTimeout(debounce);
      service.stop();
      resolve(0);
    };
    process.on("SIGHUP", onHup);
    process.once("SIGTERM", () => onStop("SIGTERM"));
    process.once("SIGINT", () => onStop("SIGINT"));
  });
}
