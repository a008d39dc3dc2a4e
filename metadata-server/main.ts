// guestlink: the metadata server's command line. Wiring only: each command family lives in cli/.
import { EXIT_USAGE, processIo, UsageError, type Io } from "./cli/common.ts";
import { dhcpCommand, dhcpUsage } from "./cli/dhcp.ts";
import { mtuCheckCommand, mtuCheckUsage } from "./cli/mtu-check.ts";
import { renderDhcpCommand, renderDhcpUsage } from "./cli/render-dhcp.ts";
import { renderCommand, renderUsage } from "./cli/render.ts";
import { seedUrlCommand, seedUrlUsage } from "./cli/seed-url.ts";
import { serveCommand, serveUsage } from "./cli/serve.ts";
import { validateCommand, validateUsage } from "./cli/validate.ts";

declare const GUESTLINK_VERSION: string | undefined;
const version = typeof GUESTLINK_VERSION === "string" ? GUESTLINK_VERSION : "0.1.0";

type Command = { run: (argv: string[], io: Io) => Promise<number>; summary: string; usage: string };

const commands: Record<string, Command> = {
  validate: { run: validateCommand, summary: "check an inventory and report every problem", usage: validateUsage },
  render: { run: renderCommand, summary: "write cloud-init seeds (directories or cidata/config-2 ISO images)", usage: renderUsage },
  "mtu-check": { run: mtuCheckCommand, summary: "check that every layer agrees on each vNIC's MTU", usage: mtuCheckUsage },
  serve: { run: serveCommand, summary: "serve cloud-init data over HTTP (NoCloud-net, OpenStack, EC2) and the operator API", usage: serveUsage },
  dhcp: { run: (argv) => dhcpCommand(argv), summary: "serve DHCPv4, DHCPv6 and router advertisements from the inventory", usage: dhcpUsage },
  "render-dhcp": { run: renderDhcpCommand, summary: "write dnsmasq or radvd configuration from the inventory", usage: renderDhcpUsage },
  "seed-url": { run: seedUrlCommand, summary: "print a VM's NoCloud-net seed string (ds=nocloud-net;s=http://.../nocloud/<token>/)", usage: seedUrlUsage },
};

function mainUsage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: guestlink COMMAND [ARGS]\n\nCommands:\n${lines.join("\n")}\n\nRun "guestlink COMMAND --help" for a command's options.\n`;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(mainUsage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === "--version" || name === "-V") { io.out(`guestlink ${version}\n`); return 0; }
  const command = commands[name];
  if (!command) { io.err(`guestlink: unknown command ${JSON.stringify(name)}\n\n${mainUsage()}`); return EXIT_USAGE; }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`guestlink ${name}: ${(err as Error).message}\n\n${command.usage}`);
      return EXIT_USAGE;
    }
    io.err(`guestlink ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`guestlink: ${err?.stack ?? err}\n`); process.exitCode = 1; },
);
