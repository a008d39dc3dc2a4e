// guestlink validate INVENTORY: exit 0 when the inventory resolves cleanly, 1 with every problem.
import { parseArgs } from "node:util";
import { EXIT_INVALID, EXIT_OK, loadOrReport, UsageError, type Io } from "./common.ts";

export const validateUsage = `usage: guestlink validate INVENTORY [--templates DIR] [--json]
  Checks an inventory: schema, references, addresses, MACs, MTUs and user-data templates.
  Prints every problem as FILE:LINE:COLUMN: FIELD: MESSAGE [CODE] on stderr.
  --json   print the problems (or the summary) as JSON on stdout instead
Exit status: 0 valid, 1 invalid, 2 usage error.
`;

export async function validateCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { templates: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) { io.out(validateUsage); return EXIT_OK; }
  if (positionals.length !== 1) throw new UsageError("validate takes exactly one INVENTORY file");
  const quiet: Io = values.json ? { out: io.out, err: () => {} } : io;
  const loaded = await loadOrReport(positionals[0]!, quiet, values.templates);
  if (values.json) {
    io.out(JSON.stringify({ valid: loaded.issues.length === 0, revision: loaded.site?.revision, issues: loaded.issues }, null, 2) + "\n");
  } else if (loaded.site) {
    const s = loaded.site;
    const nics = s.vms.reduce((n, v) => n + v.interfaces.filter((i) => i.kind === "physical").length, 0);
    io.out(`${positionals[0]}: valid: ${s.networks.length} networks, ${s.hosts.length} hosts, ${s.vms.length} VMs, ${nics} vNICs (revision ${s.revision})\n`);
  }
  return loaded.site ? EXIT_OK : EXIT_INVALID;
}
