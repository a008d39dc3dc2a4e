// guestlink dhcp --inventory FILE --interface IF[=NETWORK]... [--lease-file FILE] [--no-ra]
//                [--no-dhcp4] [--no-dhcp6] [--no-rogue-detection] [--log-level debug|info|warn|error]
// Serves DHCPv4 and IPv6 router advertisements from the inventory on the given interfaces.
import { loadSiteFile } from "../inventory/load.ts";
import { parseInterfaceSpec, runDhcpDaemon } from "../dhcp/daemon.ts";
import { jsonLogger, type InterfaceSpec, type LogLevel } from "../dhcp/service.ts";

export const dhcpUsage = `usage: guestlink dhcp --inventory FILE --interface IF[=NETWORK] [--interface ...]
                      [--lease-file FILE] [--no-ra] [--no-dhcp4] [--no-dhcp6] [--no-rogue-detection]
                      [--log-level debug|info|warn|error]
Serves DHCPv4 (reserved addresses, options 1 3 6 12 15 26 51 54 58 59 119 121) and IPv6 router
advertisements (MTU, prefix, RDNSS, DNSSL) from the inventory. Reloads on SIGHUP and when the
inventory file changes; an invalid new inventory is logged and the last good one stays in service. Rogue-server detection listens on
UDP port 68 of each interface; turn it off if this host runs its own DHCP client there.
`;

export async function dhcpCommand(argv: string[]): Promise<number> {
  let inventory: string | undefined;
  let leaseFile: string | undefined;
  let enableRa = true;
  let enableDhcp4 = true;
  let enableDhcp6 = true;
  let detectRogueServers = true;
  let level: LogLevel = "info";
  const interfaces: InterfaceSpec[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case "--inventory": inventory = value(); break;
      case "--lease-file": leaseFile = value(); break;
      case "--interface": {
        const v = value();
        const spec = v === undefined ? undefined : parseInterfaceSpec(v);
        if (!spec) {
          process.stderr.write(`guestlink dhcp: --interface needs IF or IF=NETWORK, got ${JSON.stringify(v)}\n${dhcpUsage}`);
          return 2;
        }
        interfaces.push(spec);
        break;
      }
      case "--no-ra": enableRa = false; break;
      case "--no-dhcp4": enableDhcp4 = false; break;
      case "--no-dhcp6": enableDhcp6 = false; break;
      case "--no-rogue-detection": detectRogueServers = false; break;
      case "--log-level": {
        const v = value();
        if (v !== "debug" && v !== "info" && v !== "warn" && v !== "error") {
          process.stderr.write(`guestlink dhcp: --log-level must be debug, info, warn or error\n`);
          return 2;
        }
        level = v;
        break;
      }
      case "-h":
      case "--help":
        process.stdout.write(dhcpUsage);
        return 0;
      default:
        process.stderr.write(`guestlink dhcp: unknown argument ${a}\n${dhcpUsage}`);
        return 2;
    }
  }
  if (!inventory || interfaces.length === 0) {
    process.stderr.write(`guestlink dhcp: --inventory and at least one --interface are required\n${dhcpUsage}`);
    return 2;
  }
  const path = inventory;
  const log = jsonLogger(level);
  return runDhcpDaemon({
    load: () => loadSiteFile(path),
    path,
    interfaces,
    log,
    service: { leaseFile, enableRa, enableDhcp4, enableDhcp6, detectRogueServers, log },
  });
}
