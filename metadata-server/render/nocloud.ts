// NoCloud documents: meta-data, user-data, vendor-data (network-config lives in its own files).
import type { ResolvedVm } from "../model/types.ts";
import type { RenderContext } from "./context.ts";
import { toYaml } from "./yaml-emit.ts";

export function renderNoCloudMetaData(vm: ResolvedVm): string {
  return toYaml({
    // The VM id, not a per-render random value: a stable instance-id means cloud-init runs its
    // per-instance modules once, and a rebuilt seed does not regenerate SSH host keys.
    "instance-id": vm.id,
    "local-hostname": vm.fqdn,
    "public-keys": vm.sshKeys.length ? vm.sshKeys : undefined,
  });
}

export function renderUserData(vm: ResolvedVm): string {
  return vm.userData;
}

/**
 * Vendor data: what the platform (not the VM's owner) configures. With agent enrollment it writes
 * the agent's reporting config; the file is root-only because it holds the VM's credential.
 */
export function renderVendorData(_vm: ResolvedVm, ctx: RenderContext): string {
  if (!ctx.agent) return "#cloud-config\n{}\n";
  const config = JSON.stringify({ server: ctx.agent.url, credential: ctx.agent.credential });
  return "#cloud-config\n" + toYaml({
    write_files: [{ path: "/etc/guestlink/agent.json", permissions: "0600", owner: "root:root", content: config }],
  });
}
