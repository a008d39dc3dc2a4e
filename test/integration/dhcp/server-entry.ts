// Entry point the integration tests bundle and run inside the host-side namespace.
//   server-entry --site-json FILE --interface IF=NET [--lease-file F] [--log-level L] [--no-watch]
//       serves a ResolvedSite literal (JSON), reloading on SIGHUP (and on file change unless
//       --no-watch), through the same daemon loop as `guestlink dhcp`;
//   server-entry ARGS...  runs `guestlink dhcp ARGS...` itself (YAML through the inventory loader).
import { readFile } from "node:fs/promises";
import { dhcpCommand } from "../../../metadata-server/cli/dhcp.ts";
import { parseInterfaceSpec, runDhcpDaemon } from "../../../metadata-server/dhcp/daemon.ts";
import { jsonLogger, type InterfaceSpec, type LogLevel } from "../../../metadata-server/dhcp/service.ts";
import type { ResolvedSite } from "../../../metadata-server/model/types.ts";

async function main(argv: string[]): Promise<number> {
  if (argv[0] !== "--site-json") return dhcpCommand(argv);
  const path = argv[1]!;
  const interfaces: InterfaceSpec[] = [];
  let leaseFile: string | undefined;
  let level: LogLevel = "info";
  let watch = true;
  for (let i = 2; i < argv.length; i += 2) {
    if (argv[i] === "--no-watch") { watch = false; i--; }
    else if (argv[i] === "--interface") interfaces.push(parseInterfaceSpec(argv[i + 1]!)!);
    else if (argv[i] === "--lease-file") leaseFile = argv[i + 1];
    else if (argv[i] === "--log-level") level = argv[i + 1] as LogLevel;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  const log = jsonLogger(level);
  return runDhcpDaemon({
    load: async () => {
      try {
        return { site: JSON.parse(await readFile(path, "utf8")) as ResolvedSite, issues: [] };
      } catch (e) {
        return { issues: [String(e)] };
      }
    },
    path,
    watch,
    interfaces,
    log,
    service: { leaseFile, log },
  });
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`${e?.stack ?? e}\n`); process.exitCode = 1; });
