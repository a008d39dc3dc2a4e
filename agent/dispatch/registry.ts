// The command registry: each command is a declaration (name, schema from protocol/, handler) and
// handlers return values instead of writing to the channel. Pure: no I/O here.
import { COMMAND_SCHEMAS } from "../protocol/schemas.ts";
import type { CommandSchema } from "../protocol/schemas.ts";

export interface CallContext<Env> {
  env: Env;
  /** guest-sync-delimited: prefix this call's response with the 0xFF sentinel byte. */
  delimitResponse(): void;
}

export interface CommandDef<Env> {
  name: string;
  schema: CommandSchema;
  /** Returns the "return" value; throws QgaError for an error response. */
  run(args: Record<string, unknown>, ctx: CallContext<Env>): unknown;
  /** shutdown, suspend-*: no response at all on success (QCO_NO_SUCCESS_RESP). */
  noSuccessResponse?: boolean;
  /** Registered but disabled on this platform from the start (like guest-get-devices on Linux). */
  disabledByDefault?: boolean;
  /** Allowed while filesystems are frozen. */
  allowedWhileFrozen?: boolean;
}

export function defineCommand<Env>(def: Omit<CommandDef<Env>, "schema"> & { schema?: CommandSchema }): CommandDef<Env> {
  const schema = def.schema ?? COMMAND_SCHEMAS[def.name];
  if (!schema) throw new Error(`no schema for command ${def.name}`);
  return { ...def, schema };
}

export class CommandRegistry<Env> {
  /** In registration order (a Map keeps it); guest-info lists commands in reverse of it, as qemu-ga does. */
  private readonly byName = new Map<string, CommandDef<Env>>();

  register(...defs: CommandDef<Env>[]): this {
    for (const d of defs) {
      if (this.byName.has(d.name)) throw new Error(`command ${d.name} registered twice`);
      this.byName.set(d.name, d);
    }
    return this;
  }

  get(name: string): CommandDef<Env> | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}
