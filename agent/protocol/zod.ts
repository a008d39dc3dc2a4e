// zod schemas derived from the QAPI types, for other packages and tests. Kept apart from the agent's own
// code paths so the agent bundle does not load zod at all (start-up time and memory).
import { z } from "zod";
import type { QType } from "./qapi.ts";

/** The same shape as a zod schema over plain JSON (as JSON.parse would give), for other packages and tests. */
export function toZod(type: QType): z.ZodType {
  switch (type.kind) {
    case "int": return z.union([z.number().int(), z.bigint()]);
    case "uint64": return z.union([z.number().int().nonnegative(), z.bigint().nonnegative()]);
    case "number": return z.number();
    case "bool": return z.boolean();
    case "str": return z.string();
    case "any": return z.unknown();
    case "null": return z.null();
    case "enum": return z.enum(type.values as [string, ...string[]]);
    case "list": return z.array(toZod(type.of));
    case "struct": {
      const shape: Record<string, z.ZodType> = {};
      for (const m of type.members) shape[m.name] = m.optional ? toZod(m.type).optional() : toZod(m.type);
      return z.object(shape).strict();
    }
    case "alternate": {
      const branches = [type.int, type.str].filter((b): b is QType => b !== undefined).map(toZod);
      if (branches.length === 1) return branches[0]!;
      return z.union(branches as [z.ZodType, z.ZodType]);
    }
  }
}
