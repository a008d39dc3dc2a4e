// Polls each VM's qemu-guest-agent socket on its own schedule, like VDSM and KubeVirt do: every
// few seconds while a VM is booting (until a routable address shows up, at most bootWindowMs),
// then every intervalMs. Each VM has its own timer and client, so one slow or dead agent never
// delays the others; a poll that fails is reported and retried at the next tick.
import { EXTENSION_GET_LINKS } from "../../agent/protocol/index.ts";
import type { ObservedGuest } from "../observe/types.ts";
import { QgaClient, QgaError } from "./client.ts";
import { GetInterfacesAnswer, GetLinksAnswer, hasRoutableAddress, observedFromQga, type GetLinks } from "./normalize.ts";

export interface PollTarget { vmId: string; socketPath: string }

export interface PollResult {
  vmId: string;
  observed?: ObservedGuest;
  /** The raw answers, kept for diagnosis (KubeVirt users ask for exactly this). */
  raw: Record<string, unknown>;
  error?: string;
}

export interface QgaPollerOptions {
  /** Steady-state interval (VDSM: network every 120 s). */
  intervalMs?: number;
  /** Interval while booting (VDSM: 5 s during the first 120 s until a routable IP shows up). */
  bootIntervalMs?: number;
  bootWindowMs?: number;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  now?: () => number;
  onResult: (result: PollResult) => void;
}

export const POLLER_DEFAULTS = { intervalMs: 120_000, bootIntervalMs: 5_000, bootWindowMs: 120_000, commandTimeoutMs: 1_000, connectTimeoutMs: 1_000 } as const;

interface VmState {
  target: PollTarget;
  client: QgaClient;
  startedAt: number;
  routable: boolean;
  /** Whether the agent answered our extension; qemu-ga says CommandNotFound, then we stop asking. */
  hasLinks: boolean | undefined;
  timer: NodeJS.Timeout | undefined;
  busy: boolean;
}

export class QgaPoller {
  private readonly vms = new Map<string, VmState>();
  private readonly opts: Required<Omit<QgaPollerOptions, "onResult" | "now">> & Pick<QgaPollerOptions, "onResult"> & { now: () => number };
  private stopped = false;

  constructor(options: QgaPollerOptions) {
    this.opts = { ...POLLER_DEFAULTS, now: Date.now, ...options } as typeof this.opts;
  }

  /** Starts polling new targets, stops removed ones, keeps the rest running untouched. */
  setTargets(targets: readonly PollTarget[]): void {
    const wanted = new Map(targets.map((t) => [t.vmId, t]));
    for (const [id, state] of this.vms) {
      const t = wanted.get(id);
      if (!t || t.socketPath !== state.target.socketPath) this.remove(id);
    }
    for (const t of targets) if (!this.vms.has(t.vmId)) this.add(t);
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.vms.keys()]) this.remove(id);
  }

  /** Polls one VM now (also what the timers call). Resolves when the poll is over. */
  async pollNow(vmId: string): Promise<PollResult | undefined> {
    const s = this.vms.get(vmId);
    if (!s || s.busy) return undefined;
    s.busy = true;
    const raw: Record<string, unknown> = {};
    let result: PollResult;
    try {
      const interfaces = GetInterfacesAnswer.parse((raw["guest-network-get-interfaces"] = await s.client.call("guest-network-get-interfaces")));
      let links: GetLinks | undefined;
      if (s.hasLinks !== false) {
        try {
          links = GetLinksAnswer.parse((raw[EXTENSION_GET_LINKS] = await s.client.call(EXTENSION_GET_LINKS)));
          s.hasLinks = true;
        } catch (err) {
          if (err instanceof QgaError && err.errorClass === "CommandNotFound") s.hasLinks = false;
          else throw err;
        }
      }
      const observed = observedFromQga(s.target.vmId, `qga:${s.target.socketPath}`, new Date(this.opts.now()).toISOString(), interfaces, links);
      s.routable ||= hasRoutableAddress(observed);
      result = { vmId: s.target.vmId, observed, raw };
    } catch (err) {
      result = { vmId: s.target.vmId, raw, error: (err as Error).message };
    } finally {
      s.busy = false;
    }
    if (this.vms.get(vmId) === s) this.opts.onResult(result);
    return result;
  }

  private add(target: PollTarget): void {
    const state: VmState = {
      target, startedAt: this.opts.now(), routable: false, hasLinks: undefined, timer: undefined, busy: false,
      client: new QgaClient({ path: target.socketPath, commandTimeoutMs: this.opts.commandTimeoutMs, connectTimeoutMs: this.opts.connectTimeoutMs }),
    };
    this.vms.set(target.vmId, state);
    this.schedule(state, 0);
  }

  private remove(vmId: string): void {
    const s = this.vms.get(vmId);
    if (!s) return;
    clearTimeout(s.timer);
    s.client.close();
    this.vms.delete(vmId);
  }

  private schedule(s: VmState, delay: number): void {
    if (this.stopped) return;
    s.timer = setTimeout(async () => {
      await this.pollNow(s.target.vmId);
      if (this.vms.get(s.target.vmId) !== s) return;
      const booting = !s.routable && this.opts.now() - s.startedAt < this.opts.bootWindowMs;
      this.schedule(s, booting ? this.opts.bootIntervalMs : this.opts.intervalMs);
    }, delay);
    s.timer.unref?.();
  }
}
