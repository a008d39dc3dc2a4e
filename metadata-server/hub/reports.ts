// Everything about what guests report, as one service the HTTP layer plugs in: the guest state
// store, the agents' WebSocket hub, the host-side QGA poller, the browsers' event hub, and the
// views the API and the console read (latest report, MTU findings, console state).
import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { dirname, join, resolve } from "node:path";
import type { Duplex } from "node:stream";
import { checkMtu, type MtuCheckInput, type MtuReport } from "../model/consistency.ts";
import type { ResolvedSite, ResolvedVm } from "../model/types.ts";
import type { ObservedGuest } from "../observe/types.ts";
import { QgaPoller, type PollResult } from "../qga/poller.ts";
import type { SiteSnapshot } from "../site-store.ts";
import { AGENT_HUB_DEFAULTS, AgentHub, overReportLimits, type AgentHubOptions, type ReportLimits } from "./agent-hub.ts";
import { consoleState, type ConsoleSources, type ConsoleState, type Refusal } from "./console-view.ts";
import { EventHub, type EventLimits, type UpgradeRefusal } from "./events.ts";
import { FileGuestStore, StoreLimitError, type FileGuestStoreOptions, type GuestRecord } from "./store.ts";

export interface ReportsOptions {
  stateDir: string;
  secret: Uint8Array;
  current: () => SiteSnapshot | undefined;
  log: (level: "debug" | "info" | "warn" | "error", event: string, fields?: Record<string, unknown>) => void;
  agentHub?: Partial<Omit<AgentHubOptions, "secret" | "isKnownVm" | "onReport" | "onLimit" | "onEvent">>;
  guestStore?: Omit<FileGuestStoreOptions, "log">;
  poller?: { intervalMs?: number; bootIntervalMs?: number; bootWindowMs?: number; commandTimeoutMs?: number };
  /** Browser events for one VM are sent at most this often (a chatty guest cannot flood consoles). */
  eventIntervalMs?: number;
  /** Limits of the browsers' event stream (hub/events.ts, DEFAULT_EVENT_LIMITS). */
  events?: Partial<EventLimits>;
  consoleDir?: string;
  /** The whole-site MTU check; tests pass a counting wrapper to see when it really runs. */
  checkMtu?: (input: MtuCheckInput) => MtuReport;
}

/** The console's files with the headers they are served with, made once (see http/response-headers.ts). */
export interface ConsoleAssets { [path: string]: { headers: Readonly<Record<string, string>>; body: Buffer } }

/** The console page next to the program, in the working tree, or where the package puts it. */
export function findConsoleDir(): string | undefined {
  const candidates = [
    process.env.GUESTLINK_CONSOLE,
    process.argv[1] ? join(dirname(resolve(process.argv[1])), "..", "metadata-server", "console") : undefined,
    join(process.cwd(), "metadata-server", "console"),
    "/usr/share/guestlink/console",
  ];
  return candidates.find((c): c is string => c !== undefined && existsSync(join(c, "index.html")));
}

function loadConsole(dir: string | undefined): ConsoleAssets {
  if (!dir) return {};
  const files: [string, string, string][] = [["/", "index.html", "text/html; charset=utf-8"], ["/console.js", "console.js", "text/javascript; charset=utf-8"], ["/console.css", "console.css", "text/css; charset=utf-8"]];
  return Object.fromEntries(files.map(([path, file, type]) => [path, { headers: { "content-type": type, "cache-control": "no-cache" }, body: readFileSync(join(dir, file)) }]));
}

export class ReportsService {
  readonly agents: AgentHub;
  readonly events: EventHub;
  readonly poller: QgaPoller;
  readonly console: ConsoleAssets;
  private readonly dirtyVms = new Set<string>();
  private readonly polls = new Map<string, { at: string; observed?: ObservedGuest; error?: string }>();
  /** The latest report of each VM that went over a limit and was refused (memory only, like polls). */
  private readonly refusals = new Map<string, Refusal>();
  private readonly limits: ReportLimits;
  private readonly flusher: NodeJS.Timeout;
  private readonly retainer: NodeJS.Timeout;
  private readonly check: (input: MtuCheckInput) => MtuReport;
  /**
   * The last whole-site MTU report and what it was computed from. Dashboards poll /v1/mtu and
   * /v1/console/state, and with 10,000 VMs re-running the check for every poll is wasted work
   * when nothing changed. The report is a pure function of two inputs, so it is reused exactly
   * while both are the same:
   * - the inventory revision, as the site object of the snapshot the request holds: each swap
   *   publishes a new one. Comparing that object (not the revision string, nor a counter bumped in
   *   onSnapshot) means a request still holding an older snapshot can never be answered from, or
   *   leave behind, a report of another revision, and a partial site never matches;
   * - the guest store's revision, which every stored agent report, QGA observation and dropped
   *   record moves on.
   * So a new report or an inventory swap is seen by the very next request. The check reads no
   * clock, so nothing needs to expire by time. Callers share the report: never mutate it.
   */
  private mtuCache: { site: ResolvedSite; guestsRevision: number; report: MtuReport } | undefined;

  private constructor(private readonly opts: ReportsOptions, readonly guests: FileGuestStore) {
    this.agents = new AgentHub({
      ...opts.agentHub,
      secret: opts.secret,
      isKnownVm: (id) => opts.current()?.findVm(id)?.id === id,
      onReport: (record, bytes) => this.accept(record, bytes),
      onLimit: (vmId, message) => this.refused(vmId, "agent", message),
      onEvent: (e) => opts.log(e.event === "rejected" ? "warn" : "info", `agent.${e.event}`, { vm: e.vmId, ...(e.reason ? { reason: e.reason } : {}) }),
    });
    this.events = new EventHub(opts.events);
    this.check = opts.checkMtu ?? checkMtu;
    this.limits = { ...AGENT_HUB_DEFAULTS, ...opts.agentHub };
    this.poller = new QgaPoller({ ...opts.poller, onResult: (r) => this.polled(r) });
    this.console = loadConsole(opts.consoleDir ?? findConsoleDir());
    this.flusher = setInterval(() => this.publishDirty(), opts.eventIntervalMs ?? 250);
    this.flusher.unref();
    // Records of VMs that left the inventory go once their grace period is over, even when no
    // new revision comes to say so.
    this.retainer = setInterval(() => { const s = opts.current(); if (s) this.guests.retain(new Set(s.vms.map((v) => v.id))); }, 60_000);
    this.retainer.unref();
  }

  static async open(opts: ReportsOptions): Promise<ReportsService> {
    const guests = await FileGuestStore.open(join(opts.stateDir, "guests.json"), { ...opts.guestStore, log: (level, event, fields) => opts.log(level, event, fields) });
    const service = new ReportsService(opts, guests);
    const snapshot = opts.current();
    if (snapshot) service.onSnapshot(snapshot);
    return service;
  }

  /** A new inventory revision: follow its VM list (poll targets, stored reports) and tell consoles. */
  onSnapshot(snapshot: SiteSnapshot): void {
    const vms = snapshot.site.vms;
    this.poller.setTargets(vms.filter((v) => v.qgaSocket).map((v) => ({ vmId: v.id, socketPath: v.qgaSocket! })));
    this.guests.retain(new Set(vms.map((v) => v.id)));
    for (const id of this.polls.keys()) if (!snapshot.findVm(id)) this.polls.delete(id);
    for (const id of this.refusals.keys()) if (!snapshot.findVm(id)) this.refusals.delete(id);
    this.mtuCache = undefined; // not needed for correctness (the key has the site); frees the old revision's report
    this.events.publishRevision(snapshot.revision);
  }

  /**
   * /v1/agent on guest listeners, /v1/events on operator listeners, the latter only for requests
   * the operator check (`admit`) lets through. False: no such stream here; a refusal: answer it.
   */
  handleUpgrade(roles: readonly string[], req: IncomingMessage, socket: Duplex, head: Buffer, admit: () => string | undefined): boolean | UpgradeRefusal {
    if (roles.includes("guest") && this.agents.handleUpgrade(req, socket, head)) return true;
    if (roles.includes("operator")) return this.events.handleUpgrade(req, socket, head, admit);
    return false;
  }

  guest(vmId: string): GuestRecord | undefined {
    return this.guests.get(vmId);
  }

  /** Latest reports of the given site's VMs only (the console flush passes a few VMs, not all). */
  private observedGuests(site: ResolvedSite): Map<string, ObservedGuest> {
    const out = new Map<string, ObservedGuest>();
    for (const vm of site.vms) {
      const rec = this.guests.get(vm.id);
      if (rec) out.set(vm.id, rec.observed);
    }
    return out;
  }

  /** The MTU findings for the whole site, recomputed only when the site or a guest record changed. */
  mtuReport(site: ResolvedSite): MtuReport {
    const guestsRevision = this.guests.revision;
    const hit = this.mtuCache;
    if (hit && hit.site === site && hit.guestsRevision === guestsRevision) return hit.report;
    const report = this.check({ site, guests: this.observedGuests(site) });
    this.mtuCache = { site, guestsRevision, report };
    return report;
  }

  consoleState(site: ResolvedSite): ConsoleState {
    return consoleState(site, this.consoleSources(this.mtuReport(site)));
  }

  private consoleSources(mtu: MtuReport): ConsoleSources {
    return { record: (id) => this.guests.get(id), mtu, polled: (id) => this.polls.get(id)?.observed, refused: (id) => this.refusals.get(id) };
  }


  async close(): Promise<void> {
    clearInterval(this.flusher);
    clearInterval(this.retainer);
    this.poller.stop();
    this.agents.close();
    this.events.close();
    await this.guests.close();
  }

  /** Stores a report; the promise is the store's word that it is durable (the agent's ack waits for it). */
  private accept(record: GuestRecord, bytes?: number): Promise<void> {
    const durable = this.guests.put(record, bytes); // throws StoreLimitError, storing nothing
    this.dirtyVms.add(record.vmId);
    this.refusals.delete(record.vmId);
    return durable;
  }

  private refused(vmId: string, source: "agent" | "qga", message: string): void {
    this.refusals.set(vmId, { at: new Date().toISOString(), source, message });
    this.dirtyVms.add(vmId);
    this.opts.log("warn", "report.limit_exceeded", { vm: vmId, source, error: message });
  }

  /**
   * The latest host-side QGA poll of a VM, kept apart from the stored report: while the agent's
   * own channel is the fresher source, the poll still says what libvirt, VDSM or KubeVirt would see.
   * `at` is the latest attempt and `error` its failure; `observed` is the latest poll that
   * succeeded (it carries its own `at`). Memory only: it is a diagnosis aid, re-learnt at the next
   * poll after a restart.
   */
  lastPoll(vmId: string): { at: string; observed?: ObservedGuest; error?: string } | undefined {
    return this.polls.get(vmId);
  }

  private polled(r: PollResult): void {
    const before = this.polls.get(r.vmId)?.observed;
    // A failed poll says nothing new about the guest: QEMU's chardev takes one client at a time,
    // so an operator's virsh qemu-agent-command, or a reboot, fails a poll now and then. The last
    // good observation (and with it cloud-init's verdict on the console) stays, the error beside it.
    const observed = r.observed ?? before;
    this.polls.set(r.vmId, { at: new Date().toISOString(), ...(observed ? { observed } : {}), ...(r.error ? { error: r.error } : {}) });
    // Consoles hear of cloud-init's verdict when it changes, also while the agent's report is the stored one.
    const after = r.observed?.cloudInit;
    if (after && JSON.stringify(after) !== JSON.stringify(before?.cloudInit)) this.dirtyVms.add(r.vmId);
    if (r.error) {
      this.opts.log("warn", "qga.poll_failed", { vm: r.vmId, error: r.error });
      return;
    }
    // An agent's own WebSocket report is fresher and richer than a poll; a poll does not overwrite it.
    const existing = this.guests.get(r.vmId);
    if (existing?.observed.source === "agent" && Date.parse(existing.receivedAt) > Date.now() - 5 * 60_000) return;
    // A qemu-ga answer can be as large as an agent's report, so the agent's limits apply to it.
    const over = overReportLimits(r.observed!.interfaces, r.observed!.interfaces.length, this.limits, "the poll found");
    if (over) return this.refused(r.vmId, "qga", over);
    try {
      this.accept({ vmId: r.vmId, observed: r.observed!, raw: r.raw, receivedAt: new Date().toISOString() })
        .catch((err: Error) => this.opts.log("error", "store.write_failed", { vm: r.vmId, error: err.message }));
    } catch (err) {
      if (!(err instanceof StoreLimitError)) throw err;
      this.refused(r.vmId, "qga", err.message);
    }
  }

  private publishDirty(): void {
    if (!this.dirtyVms.size) return;
    const snapshot = this.opts.current();
    if (!snapshot) return;
    const ids = [...this.dirtyVms];
    this.dirtyVms.clear();
    const vms = ids.map((id) => snapshot.findVm(id)).filter((v): v is ResolvedVm => v !== undefined);
    if (!vms.length) return;
    // Only the changed VMs are checked, and not through mtuReport: a partial site is not a
    // revision to cache, and storing it would evict the whole-site report the API reuses.
    const partial = { ...snapshot.site, vms };
    const mtu = this.check({ site: partial, guests: this.observedGuests(partial) });
    for (const vm of consoleState(partial, this.consoleSources(mtu)).vms) this.events.publishVm(vm);
  }
}
