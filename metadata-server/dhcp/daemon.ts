// The long-running part of `guestlink dhcp`: load, serve, reload on SIGHUP and on file change,
// stop on SIGTERM/SIGINT. The inventory loader is a parameter so the CLI uses the YAML loader
// and tests can feed resolved sites directly.
import { basename, dirname } from "node:path";
import { DEFAULT_QUIET_MS, FileReloader } from "../inventory/reload.ts";
import { removeStaleTempFiles } from "../state/temp-files.ts";
import type { ResolvedSite } from "../model/types.ts";
import { DhcpService, jsonLogger, type DhcpServiceOptions, type InterfaceSpec, type LogFn } from "./service.ts";

export interface SiteLoadResult {
  site?: ResolvedSite;
  issues: unknown[];
}

export interface DaemonOptions {
  load: () => Promise<SiteLoadResult>;
  /** The file `load` reads: stat'ed so that only a settled file is judged (inventory/reload.ts). */
  path?: string;
  /** Reload when the file changes, not only on SIGHUP (needs `path`; default true). */
  watch?: boolean;
  interfaces: InterfaceSpec[];
  /**
   * Quiet time: a reload judges the file only once it has stayed unchanged this long, so a
   * writer's pause shorter than this never serves half a file; also the debounce of change events, ms.
   */
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
  const leaseFile = opts.service?.leaseFile;
  if (leaseFile) {
    // A lease write cut short by a crash leaves its temporary file; only the lease file's own are
    // touched (its directory may be shared).
    try {
      const removed = await removeStaleTempFiles(dirname(leaseFile), { names: [basename(leaseFile)] });
      for (const f of removed) log("info", "stale-temp-removed", { ...f });
    } catch (e) {
      log("warn", "stale-temp-failed", { leaseFile, error: String(e) });
    }
  }
  const loadSafely = () => opts.load().catch((e: unknown) => ({ site: undefined, issues: [String(e)] }) as SiteLoadResult);
  // Without a path there is nothing to stat: every load counts as settled (a site handed over in memory).
  const reloader = opts.path
    ? new FileReloader<SiteLoadResult, void>({
      path: opts.path, load: loadSafely, judge: (r, why) => judge(r, why), abandoned: undefined,
      quietMs: opts.reloadDebounceMs ?? DEFAULT_QUIET_MS,
      log, events: { fileChanged: "file-changed", unsettled: "reload-unsettled", watchFailed: "watch-failed" },
    })
    : undefined;
  const first = reloader ? (await reloader.loadSettled("start", "read"))!.loaded : await loadSafely();
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

  function judge(r: SiteLoadResult, why: string): void {
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
  }
  const reload = (why: string) => (reloader ? void reloader.reload(why) : void loadSafely().then((r) => judge(r, why)));
  if (reloader && (opts.watch ?? true)) reloader.watch();

  return new Promise<number>((resolve) => {
    const onHup = () => reload("SIGHUP");
    const onStop = (signal: string) => {
      log("info", "stopping", { signal });
      process.off("SIGHUP", onHup);
      reloader?.close();
      service.stop();
      resolve(0);
    };
    process.on("SIGHUP", onHup);
    process.once("SIGTERM", () => onStop("SIGTERM"));
    process.once("SIGINT", () => onStop("SIGINT"));
  });
}
