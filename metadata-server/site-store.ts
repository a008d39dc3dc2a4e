// The site the HTTP service answers from: the current ResolvedSite with its lookup indexes and a
// per-revision cache of rendered documents. A snapshot is immutable once built; a reload builds
// a new one off to the side and swaps one reference, so a request holds one snapshot for its
// whole life and can never see half of an update. A bad inventory never replaces a good one.
import { formatIssue } from "./inventory/issues.ts";
import { loadSiteFile, type LoadOptions } from "./inventory/load.ts";
import { DEFAULT_QUIET_MS, FileReloader } from "./inventory/reload.ts";
import type { ResolvedSite, ResolvedVm } from "./model/types.ts";
import type { RenderContext } from "./render/context.ts";
import { renderEc2MetaData, type Ec2Dir } from "./render/ec2.ts";
import { SEED_FORMATS } from "./render/registry.ts";
import { canonicalAddress } from "./http/address.ts";
import type { Logger } from "./http/log.ts";
import { agentEnrollment } from "./state/enrollment.ts";
import { constantTimeEqual, SEED_TOKEN_PATTERN, seedToken, tokenIndexKey } from "./state/tokens.ts";

export const NOCLOUD_DOCUMENTS = ["meta-data", "user-data", "vendor-data", "network-config"] as const;
export const OPENSTACK_DOCUMENTS = ["meta_data.json", "network_data.json", "user_data", "vendor_data.json"] as const;
export type NoCloudDocument = (typeof NOCLOUD_DOCUMENTS)[number];
export type OpenStackDocument = (typeof OPENSTACK_DOCUMENTS)[number];

export interface RenderOptions {
  /** Public base URL of this server; when set, vendor-data carries the agent enrollment. */
  publicUrl?: string;
  /** NoCloud network-config version, as `guestlink render --network-config` (default 1). */
  networkConfigVersion?: 1 | 2;
  /**
   * Rendered documents kept per revision. Beyond it the cache starts over (a 10,000-VM site with
   * every document cached is about 80,000 entries, so the default never drops anything there).
   */
  maxCachedDocuments?: number;
}

export const DEFAULT_MAX_CACHED_DOCUMENTS = 200_000;

const DOC_SLOT: Record<NoCloudDocument | OpenStackDocument, number> = Object.fromEntries(
  [...NOCLOUD_DOCUMENTS, ...OPENSTACK_DOCUMENTS].map((d, i) => [d, i]),
) as Record<NoCloudDocument | OpenStackDocument, number>;
const DOC_SLOTS = NOCLOUD_DOCUMENTS.length + OPENSTACK_DOCUMENTS.length;

const NOCLOUD_DOCS = new Map(SEED_FORMATS.nocloud.documents.map((d) => [d.path, d]));
const OPENSTACK_DOCS = new Map(
  SEED_FORMATS.configdrive.documents.filter((d) => d.path.startsWith("openstack/latest/")).map((d) => [d.path.slice("openstack/latest/".length), d]),
);

/** One inventory revision, indexed for the request path. Never mutated after construction except its render cache. */
export class SiteSnapshot {
  readonly revision: string;
  private readonly byTokenKey = new Map<string, { vm: ResolvedVm; token: string }>();
  private readonly byAddress = new Map<string, ResolvedVm>();
  private readonly byId = new Map<string, ResolvedVm>();
  private readonly byName = new Map<string, ResolvedVm>();
  private readonly tokens = new Map<string, string>();
  /** Addresses that two VMs claim: they identify nobody. */
  readonly ambiguousAddresses: ReadonlySet<string>;
  private readonly cache = new Map<string, Buffer>();
  private readonly documents = new Map<ResolvedVm, Array<Buffer | undefined>>();
  private cachedCount = 0;
  private readonly ec2Trees = new Map<string, Ec2Dir>();
  private readonly maxCached: number;

  constructor(readonly site: ResolvedSite, private readonly secret: Uint8Array, private readonly options: RenderOptions = {}) {
    this.revision = site.revision;
    this.maxCached = options.maxCachedDocuments ?? DEFAULT_MAX_CACHED_DOCUMENTS;
    const ambiguous = new Set<string>();
    for (const vm of site.vms) {
      this.byId.set(vm.id, vm);
      this.byName.set(vm.name, vm);
      const token = seedToken(secret, vm.id);
      this.tokens.set(vm.id, token);
      this.byTokenKey.set(tokenIndexKey(token), { vm, token });
      for (const address of vmAddresses(vm)) {
        const owner = this.byAddress.get(address);
        if (ambiguous.has(address)) continue;
        if (owner && owner !== vm) {
          this.byAddress.delete(address);
          ambiguous.add(address);
        } else {
          this.byAddress.set(address, vm);
        }
      }
    }
    this.ambiguousAddresses = ambiguous;
  }

  get vms(): readonly ResolvedVm[] { return this.site.vms; }

  vmById(id: string): ResolvedVm | undefined { return this.byId.get(id.toLowerCase()); }

  /** By name or id, as the CLI's --vm does. */
  findVm(nameOrId: string): ResolvedVm | undefined { return this.byName.get(nameOrId) ?? this.vmById(nameOrId); }

  /** The VM owning a canonical address (http/address.ts), unless two VMs claim it. */
  vmByAddress(address: string): ResolvedVm | undefined { return this.byAddress.get(address); }

  vmBySeedToken(token: string): ResolvedVm | undefined {
    if (!SEED_TOKEN_PATTERN.test(token)) return undefined;
    const entry = this.byTokenKey.get(tokenIndexKey(token));
    return entry && constantTimeEqual(entry.token, token) ? entry.vm : undefined;
  }

  seedToken(vm: ResolvedVm): string { return this.tokens.get(vm.id) ?? seedToken(this.secret, vm.id); }

  /** Addresses by which a VM is identified (every address the inventory gives or allocates it). */
  addressesOf(vm: ResolvedVm): string[] { return vmAddresses(vm).filter((a) => this.byAddress.get(a) === vm); }

  nocloud(vm: ResolvedVm, name: NoCloudDocument): Buffer {
    return this.document(vm, DOC_SLOT[name], () => NOCLOUD_DOCS.get(name)!.render(vm, this.context(vm)));
  }

  openstack(vm: ResolvedVm, name: OpenStackDocument): Buffer {
    return this.document(vm, DOC_SLOT[name], () => OPENSTACK_DOCS.get(name)!.render(vm, this.context(vm)));
  }

  /** The hot path: one Map lookup by VM object and an array index, no key strings built per request. */
  private document(vm: ResolvedVm, slot: number, render: () => string): Buffer {
    let slots = this.documents.get(vm);
    if (!slots) this.documents.set(vm, (slots = new Array<Buffer | undefined>(DOC_SLOTS)));
    let doc = slots[slot];
    if (!doc) {
      if (this.cachedCount >= this.maxCached) { this.documents.clear(); this.cache.clear(); this.cachedCount = 0; return this.document(vm, slot, render); }
      doc = slots[slot] = Buffer.from(render(), "utf8");
      this.cachedCount++;
    }
    return doc;
  }

  ec2(vm: ResolvedVm): Ec2Dir {
    let tree = this.ec2Trees.get(vm.id);
    if (!tree) this.ec2Trees.set(vm.id, (tree = renderEc2MetaData(vm)));
    return tree;
  }

  /** Cached EC2 leaf or listing text. */
  ec2Text(vm: ResolvedVm, path: string, lookup: (tree: Ec2Dir, path: string) => string | undefined): Buffer | undefined {
    const key = `e\0${vm.id}\0${path}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const text = lookup(this.ec2(vm), path);
    if (text === undefined) return undefined;
    return this.cached(key, () => text);
  }

  /** The same context `guestlink render` uses, plus the agent enrollment when a public URL is set. */
  context(vm: ResolvedVm): RenderContext {
    return {
      site: this.site,
      networkConfigVersion: this.options.networkConfigVersion ?? 1,
      ...(this.options.publicUrl ? { agent: agentEnrollment(this.secret, vm.id, this.options.publicUrl) } : {}),
    };
  }

  get cachedDocuments(): number { return this.cachedCount; }

  private cached(key: string, render: () => string): Buffer {
    let doc = this.cache.get(key);
    if (!doc) {
      if (this.cachedCount >= this.maxCached) { this.documents.clear(); this.cache.clear(); this.cachedCount = 0; }
      doc = Buffer.from(render(), "utf8");
      this.cache.set(key, doc);
      this.cachedCount++;
    }
    return doc;
  }
}

function vmAddresses(vm: ResolvedVm): string[] {
  const out = new Set<string>();
  for (const iface of vm.interfaces) {
    for (const a of [iface.ipv4?.address, iface.ipv6?.address]) {
      const c = canonicalAddress(a);
      if (c) out.add(c);
    }
  }
  return [...out];
}

// ------------------------------------------------------------------------------------- the store

export interface SiteStoreOptions extends RenderOptions {
  inventoryPath: string;
  templatesDir?: string;
  secret: Uint8Array;
  log: Logger;
  /** Re-read the inventory when its file changes (default true). */
  watch?: boolean;
  /**
   * Quiet time: a reload (file change or SIGHUP) judges the file only once it has stayed unchanged
   * this long, so a writer's pause shorter than this never publishes half a file (default 1000 ms;
   * the scheme is in inventory/reload.ts).
   */
  watchDebounceMs?: number;
  load?: (path: string, opts: LoadOptions) => ReturnType<typeof loadSiteFile>;
  /** Called after a new revision is published (the reports service follows the VM list with it). */
  onSwap?: (snapshot: SiteSnapshot) => void;
}

export const DEFAULT_WATCH_DEBOUNCE_MS = DEFAULT_QUIET_MS;

export type ReloadOutcome =
  | { result: "loaded"; revision: string; vms: number }
  | { result: "unchanged"; revision: string }
  | { result: "rejected"; issues: string[] }
  /** The store was closed while the file was still being written. */
  | { result: "abandoned" };

export interface ReloadCounters { loaded: number; unchanged: number; rejected: number }

export class SiteStore {
  private snapshot: SiteSnapshot | undefined;
  private readonly reloader: FileReloader<Awaited<ReturnType<typeof loadSiteFile>>, ReloadOutcome>;
  readonly counters: ReloadCounters = { loaded: 0, unchanged: 0, rejected: 0 };
  /** Wall-clock time of the last successful load, for the metrics endpoint. */
  loadedAt = 0;

  constructor(private readonly options: SiteStoreOptions) {
    const { inventoryPath, templatesDir, log } = options;
    const load = options.load ?? loadSiteFile;
    this.reloader = new FileReloader({
      path: inventoryPath,
      load: () => load(inventoryPath, templatesDir ? { templatesDir } : {}),
      judge: (loaded, reason) => this.judge(loaded, reason),
      abandoned: { result: "abandoned" },
      quietMs: options.watchDebounceMs ?? DEFAULT_WATCH_DEBOUNCE_MS,
      log: (level, event, fields) => log.log(level, event, fields),
      events: { fileChanged: "file changed", unsettled: "inventory.unsettled", watchFailed: "inventory.watch_failed" },
    });
  }

  /** The snapshot to answer a request from; take it once per request. */
  current(): SiteSnapshot | undefined { return this.snapshot; }

  async start(): Promise<ReloadOutcome> {
    const outcome = await this.reloader.reload("start", "read");
    if (this.options.watch ?? true) this.reloader.watch();
    return outcome;
  }

  /**
   * Re-reads the inventory once it has settled (inventory/reload.ts). Concurrent calls coalesce:
   * at most one load runs, and one more follows it.
   */
  reload(reason: string): Promise<ReloadOutcome> { return this.reloader.reload(reason); }

  close(): void { this.reloader.close(); }

  private judge(loaded: Awaited<ReturnType<typeof loadSiteFile>>, reason: string): ReloadOutcome {
    const { inventoryPath, log } = this.options;
    if (!loaded.site || loaded.issues.length) {
      const issues = loaded.issues.map(formatIssue);
      this.counters.rejected++;
      log.log("error", "inventory.rejected", {
        reason, file: inventoryPath, issues, serving: this.snapshot?.revision ?? null,
      });
      return { result: "rejected", issues };
    }
    if (this.snapshot?.revision === loaded.site.revision) {
      this.counters.unchanged++;
      log.log("info", "inventory.unchanged", { reason, revision: loaded.site.revision });
      return { result: "unchanged", revision: loaded.site.revision };
    }
    const next = new SiteSnapshot(loaded.site, this.options.secret, this.options);
    const previous = this.snapshot?.revision ?? null;
    this.snapshot = next; // the one assignment that publishes the new revision
    this.loadedAt = Date.now();
    this.counters.loaded++;
    log.log("info", "inventory.loaded", {
      reason, file: inventoryPath, revision: next.revision, previous, vms: next.vms.length,
      ambiguousAddresses: [...next.ambiguousAddresses],
    });
    this.options.onSwap?.(next);
    return { result: "loaded", revision: next.revision, vms: next.vms.length };
  }
}
