// All commands, registered in qemu-ga 7.2's order (guest-info lists them reversed), then ours.
import { CommandRegistry } from "../dispatch/registry.ts";
import { syncCommands } from "./sync.ts";
import { infoCommand } from "./info.ts";
import { networkCommands } from "./network.ts";
import { systemCommands as s } from "./system.ts";
import { fileCommands } from "./file.ts";
import { execCommands } from "./exec.ts";
import { fsCommands } from "./fs.ts";
import { powerCommands as p } from "./power.ts";
import { userCommands } from "./users.ts";
import { extensionLinksCommand } from "./extension-links.ts";
import type { AgentEnv } from "./env.ts";

export function buildRegistry(): CommandRegistry<AgentEnv> {
  const byName = new Map(
    [...syncCommands, infoCommand, ...networkCommands, ...Object.values(s), ...fileCommands, ...execCommands, ...fsCommands,
      ...Object.values(p), ...userCommands, extensionLinksCommand].map((c) => [c.name, c]),
  );
  const order = [
    "guest-sync-delimited", "guest-sync", "guest-ping", "guest-get-time", "guest-set-time", "guest-info", "guest-shutdown",
    "guest-file-open", "guest-file-close", "guest-file-read", "guest-file-write", "guest-file-seek", "guest-file-flush",
    "guest-fsfreeze-status", "guest-fsfreeze-freeze", "guest-fsfreeze-freeze-list", "guest-fsfreeze-thaw", "guest-fstrim",
    "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid", "guest-network-get-interfaces", "guest-get-vcpus",
    "guest-set-vcpus", "guest-get-disks", "guest-get-fsinfo", "guest-set-user-password", "guest-get-memory-blocks",
    "guest-set-memory-blocks", "guest-get-memory-block-info", "guest-exec-status", "guest-exec", "guest-get-host-name",
    "guest-get-users", "guest-get-timezone", "guest-get-osinfo", "guest-get-devices", "guest-ssh-get-authorized-keys",
    "guest-ssh-add-authorized-keys", "guest-ssh-remove-authorized-keys", "guest-get-diskstats", "guest-get-cpustats",
    // Beyond qemu-ga 7.2:
    "guest-network-get-route", "guest-get-load", "__org.guestlink_guest-network-get-links",
  ];
  const reg = new CommandRegistry<AgentEnv>();
  for (const name of order) {
    const def = byName.get(name);
    if (!def) throw new Error(`command ${name} not implemented`);
    reg.register(def);
    byName.delete(name);
  }
  if (byName.size) throw new Error(`commands not in the registration order: ${[...byName.keys()].join(", ")}`);
  return reg;
}
