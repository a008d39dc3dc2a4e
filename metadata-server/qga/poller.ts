// Polls each VM's qemu-guest-agent socket on its own schedule, like VDSM and KubeVirt do: every
// few seconds while a VM is booting (until a routable address shows up and cloud-init has
// finished, at most bootWindowMs), then every intervalMs. Besides the interfaces it reads
// cloud-init's result.json through guest-file-*, so an operator sees a failed first boot. Each VM has its own timer and client, so one slow or dead agent never
// delays the others; a poll that fails is reported and retried at the next tick.
import { z } from "zod";
import { EXTENSION_GET_LINKS } from "../../agent/protocol/index.ts";
import type { ObservedGuest } from "../observe/types.ts";
import { QgaClient, QgaError } from "./client.ts";
import type { ObservedCloudInit } from "../observe/types.ts";
import { CLOUD_INIT_RESULT_PATH, cloudInitFromResult, GetInterfacesAnswer, GetLinksAnswer, hasRoutableAddress, observedFromQga, type GetLinks } from "./normalize.ts";

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

/** result.json is a few hundred bytes; a guest cannot make us read more than this. */
const MAX_CLOUD_INIT_RESULT_BYTES = 64 * 1024;
const FileReadAnswer = z.looseObject({ count: z.int().min(0), "buf-b64": z.string().max(Math.ceil(MAX_CLOUD_INIT_RESULT_BYTES / 3) * 4 + 4) });

export const POLLER_DEFAULTS = { intervalMs: 120_000, bootIntervalMs: 5_000, bootWindowMs: 120_000, commandTimeoutMs: 1_000, connectTimeoutMs: 1_000 } as const;

interface VmState {
  target: PollTarget;
  client: QgaClient;
  startedAt: number;
  routable: boolean;
  /** Whether the agent answered our extension; qemu-ga says CommandNotFound, then we stop asking. */
  hasLinks: boolean | undefined;
  /** False once the agent refuses guest-file-* (blocked with -b, or absent): we stop asking. */
  hasFileRead: boolean | undefined;
  cloudInitDone: boolean;
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
      const cloudInit = s.hasFileRead === false ? undefined : await this.readCloudInit(s, raw);
      const observed = observedFromQga(s.target.vmId, `qga:${s.target.socketPath}`, new Date(this.opts.now()).toISOString(), interfaces, links);
      if (cloudInit) observed.cloudInit = cloudInit;
      s.routable ||= hasRoutableAddress(observed);
      s.cloudInitDone = cloudInit?.done ?? false;
      result = { vmId: s.target.vmId, observed, raw };
    } catch (err) {
      result = { vmId: s.target.vmId, raw, error: (err as Error).message };
    } finally {
      // The chardev behind the socket takes one client at a time: letting go after each poll leaves
      // it free for an operator's tools (virsh qemu-agent-command style) in between.
      s.client.close();
      s.busy = false;
    }
    if (this.vms.get(vmId) === s) this.opts.onResult(result);
    return result;
  }

  /**
   * cloud-init's verdict, or done: false while the file is not there yet (guest-file-open's
   * GenericError). An agent that does not offer file reads is not asked again.
   */
  private async readCloudInit(s: VmState, raw: Record<string, unknown>): Promise<ObservedCloudInit | undefined> {
    let handle: number;
    try {
      handle = Number(await s.client.call("guest-file-open", { path: CLOUD_INIT_RESULT_PATH, mode: "r" }));
      s.hasFileRead = true;
    } catch (err) {
      if (!(err instanceof QgaError)) throw err;
      if (err.errorClass === "CommandNotFound" || err.errorClass === "CommandDisabled") {
        s.hasFileRead = false;
        return undefined;
      }
      return { done: false, errors: [] };
    }
    try {
      const read = FileReadAnswer.parse(await s.client.call("guest-file-read", { handle, count: MAX_CLOUD_INIT_RESULT_BYTES }));
      const text = Buffer.from(read["buf-b64"], "base64").toString("utf8");
      raw["cloud-init-result"] = text;
      return cloudInitFromResult(text);
    } finally {
      await s.client.call("guest-file-close", { handle }).catch(() => undefined);
    }
  }

  private add(target: PollTarget): void {
    const state: VmState = {
      target, startedAt: this.opts.now(), routable: false, hasLinks: undefined, hasFileRead: undefined, cloudInitDone: false, timer: undefined, busy: false,
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
      const settled = s.routable && (s.cloudInitDone || s.hasFileRead === false);
      const booting = !settled && this.opts.now() - s.startedAt < this.opts.bootWindowMs;
      this.schedule(s, booting ? this.opts.bootIntervalMs : this.opts.intervalMs);
    }, delay);
    s.timer.unref?.();
  }
}
