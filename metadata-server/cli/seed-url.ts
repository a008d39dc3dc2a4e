// guestlink seed-url: the NoCloud-net seed string for one VM, for the SMBIOS system serial
// (libvirt <sysinfo>, qemu -smbios type=1,serial=...) or the kernel command line.
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { loadOrCreateSecret } from "../state/secret.ts";
import { seedToken } from "../state/tokens.ts";
import { DEFAULT_LISTEN, defaultStateDir, ensureLocalStateDir } from "./serve.ts";
import { EXIT_INVALID, EXIT_OK, findVm, loadOrReport, UsageError, type Io } from "./common.ts";

export const seedUrlUsage = `usage: guestlink seed-url INVENTORY --vm NAME|ID [--state-dir DIR] [--url BASE] [--ds nocloud-net|nocloud]
  Prints the seed string a guest needs to fetch its NoCloud data from \`guestlink serve\`:
    ds=nocloud-net;s=http://HOST:PORT/nocloud/<seed-token>/
  Put it in the SMBIOS system serial or on the kernel command line. The token is derived from the
  server secret in the state directory (created if missing), so use the same --state-dir as serve.
  --url BASE   the server as the guest reaches it (default http://${DEFAULT_LISTEN})
  --ds NAME    nocloud-net (default; cloud-init 22.4 fetches http seeds only as NoCloudNet) or nocloud
               (the spelling cloud-init >= 24.x documents; both are accepted there)
Exit status: 0 printed, 1 invalid inventory or unknown VM, 2 usage error.
`;

export async function seedUrlCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      vm: { type: "string" }, "state-dir": { type: "string" }, url: { type: "string" }, ds: { type: "string", default: "nocloud-net" },
      templates: { type: "string" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) { io.out(seedUrlUsage); return EXIT_OK; }
  if (positionals.length !== 1) throw new UsageError("seed-url takes exactly one INVENTORY file");
  if (values.vm === undefined) throw new UsageError("--vm NAME|ID is required");
  if (values.ds !== "nocloud-net" && values.ds !== "nocloud") throw new UsageError(`--ds must be nocloud-net or nocloud, not ${values.ds}`);
  let base: URL;
  try {
    base = new URL(values.url ?? `http://${DEFAULT_LISTEN}`);
  } catch {
    throw new UsageError(`--url ${values.url} is not a URL`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError("--url must be http:// or https://");
  // ";" separates the seed string's fields and spaces end it on a kernel command line.
  if (/[;\s]/.test(base.toString())) throw new UsageError("--url must not contain ';' or whitespace");

  const loaded = await loadOrReport(positionals[0]!, io, values.templates);
  if (!loaded.site) return EXIT_INVALID;
  const vm = findVm(loaded.site, values.vm);
  if (!vm) {
    io.err(`no VM named or with id ${values.vm} in ${positionals[0]}\n`);
    return EXIT_INVALID;
  }
  const state = values["state-dir"] ? { dir: resolve(values["state-dir"]), local: false } : defaultStateDir();
  if (state.local) ensureLocalStateDir(state.dir);
  const secret = await loadOrCreateSecret(state.dir);
  const prefix = base.toString().replace(/\/+$/, "");
  io.out(`ds=${values.ds};s=${prefix}/nocloud/${seedToken(secret.bytes, vm.id)}/\n`);
  return EXIT_OK;
}
