// From one framed message to one response line, following qemu-ga 7.2's qmp_dispatch(): the same checks
// in the same order, so the same request always earns the same error.
import { QgaError, QgaErrors, genericError } from "../protocol/errors.ts";
import { QapiInputVisitor, QapiArgumentError } from "../protocol/qapi.ts";
import { isQDict, qdictKeyOrder, toQemuJson } from "../protocol/qobject.ts";
import type { QValue, QDict } from "../protocol/qobject.ts";
import type { FramedMessage } from "../protocol/framing.ts";
import type { CommandRegistry, CommandDef, CallContext } from "./registry.ts";

export interface DispatcherOptions {
  /** -b: commands answered with "Command X has been disabled". */
  blockedRpcs?: readonly string[];
  /** -a: when given, only these commands are enabled. */
  allowedRpcs?: readonly string[] | undefined;
}

export interface DispatchResult {
  /** The response line without its newline, or null when the command sends no response. */
  line: string | null;
  /** Prefix the line with the 0xFF sentinel (guest-sync-delimited). */
  delimited: boolean;
}

export class Dispatcher<Env> {
  private readonly blocked: Set<string>;
  private readonly allowed: Set<string> | undefined;
  private frozen = false;

  constructor(readonly registry: CommandRegistry<Env>, private readonly env: Env, opts: DispatcherOptions = {}) {
    this.blocked = new Set(opts.blockedRpcs ?? []);
    this.allowed = opts.allowedRpcs ? new Set(opts.allowedRpcs) : undefined;
  }

  /** While frozen, every command not allowed in that state is disabled (and guest-info says so). */
  setFrozen(frozen: boolean): void {
    this.frozen = frozen;
  }

  isFrozen(): boolean {
    return this.frozen;
  }

  /** Why a command is disabled: null when enabled, "" for a plain block, or a reason string. */
  disabledReason(def: CommandDef<Env>): string | null {
    if (def.disabledByDefault) return "";
    if (this.blocked.has(def.name)) return "";
    if (this.allowed && !this.allowed.has(def.name)) return "";
    if (this.frozen && !def.allowedWhileFrozen) return QgaErrors.frozenReason;
    return null;
  }

  isEnabled(name: string): boolean {
    const def = this.registry.get(name);
    return def !== undefined && this.disabledReason(def) === null;
  }

  async dispatch(message: FramedMessage): Promise<DispatchResult> {
    if (!message.ok) return { line: errorLine(genericError(message.desc), undefined), delimited: false };
    return this.dispatchValue(message.value);
  }

  async dispatchValue(request: QValue): Promise<DispatchResult> {
    let delimited = false;
    let id: QValue | undefined;
    try {
      if (!isQDict(request)) throw QgaErrors.notAnObject();
      id = request.get("id");
      const name = checkEnvelope(request);
      const def = this.registry.get(name);
      if (!def) throw QgaErrors.commandNotFound(name);
      const reason = this.disabledReason(def);
      if (reason !== null) throw QgaErrors.commandDisabled(name, reason);
      const rawArgs = (request.get("arguments") as QDict | undefined) ?? new Map();
      let args: Record<string, unknown>;
      try {
        args = new QapiInputVisitor().visitArguments(def.schema.args, rawArgs);
      } catch (e) {
        if (e instanceof QapiArgumentError) throw genericError(e.message);
        throw e;
      }
      const ctx: CallContext<Env> = { env: this.env, delimitResponse: () => { delimited = true; } };
      const ret = await def.run(args, ctx);
      if (def.noSuccessResponse) return { line: null, delimited: false };
      const rsp = new Map<string, unknown>([["return", ret === undefined ? {} : ret]]);
      if (id !== undefined) rsp.set("id", id);
      return { line: toQemuJson(rsp), delimited };
    } catch (e) {
      const err = e instanceof QgaError ? e : genericError(e instanceof Error ? e.message : String(e));
      return { line: errorLine(err, id), delimited: false };
    }
  }
}

function errorLine(err: QgaError, id: QValue | undefined): string {
  const rsp = new Map<string, unknown>([["error", { class: err.errorClass, desc: err.desc }]]);
  if (id !== undefined) rsp.set("id", id);
  return toQemuJson(rsp);
}

/** qmp_dispatch_check_obj(): walk the members in QDict order; the first bad one decides the error. */
function checkEnvelope(dict: QDict): string {
  let execute: string | undefined;
  for (const key of qdictKeyOrder([...dict.keys()])) {
    const v = dict.get(key);
    if (key === "execute") {
      if (typeof v !== "string") throw QgaErrors.memberMustBeString(key);
      execute = v;
    } else if (key === "arguments") {
      if (!isQDict(v)) throw QgaErrors.argumentsMustBeObject();
    } else if (key === "id") {
      continue;
    } else {
      // qemu-ga does not allow out-of-band execution, so "exec-oob" is just another unexpected member.
      throw QgaErrors.memberUnexpected(key);
    }
  }
  if (execute === undefined) throw QgaErrors.lacksExecute();
  return execute;
}
