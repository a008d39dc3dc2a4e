// guestlink render: writes cloud-init seeds (directories or ISO images) for one VM or all of them.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ResolvedSite, ResolvedVm } from "../model/types.ts";
import type { RenderContext } from "../render/context.ts";
import { renderLibvirtInterfaces } from "../render/libvirt.ts";
import { isSeedFormatName, SEED_FORMATS, type SeedFormatName } from "../render/registry.ts";
import { seedFiles, seedImage } from "../seed/layout.ts";
import { agentEnrollment, agentUrl } from "../state/enrollment.ts";
import { defaultStateDir } from "../state/dir.ts";
import { loadOrCreateSecret } from "../state/secret.ts";
import { EXIT_INVALID, EXIT_OK, findVm, loadOrReport, UsageError, type Io } from "./common.ts";

export const renderUsage = `usage: guestlink render INVENTORY --vm NAME|ID --format nocloud|configdrive (--out DIR | --iso FILE)
       guestlink render INVENTORY --vm NAME|ID --format libvirt [--out FILE]
       guestlink render INVENTORY --all --out DIR [--format nocloud|configdrive] [--images]
  Writes a VM's cloud-init seed: a directory of files (--out) or a cidata/config-2 ISO image (--iso).
  --all writes one directory per VM under DIR (DIR/NAME/), or with --images one ISO image per VM (DIR/NAME.iso).
  --format libvirt prints the VM's libvirt <interface> elements (MAC, virtio, <mtu size>) on stdout.
  --network-config v1|v2   NoCloud network-config version (default v1: understood by every renderer)
  --templates DIR          user-data templates (default: the bundled cloud-init-templates/)
  --public-url URL         the metadata server as guests reach it: vendor-data then carries each VM's
                           agent enrollment (its reporting URL and credential), as guestlink serve does
  --state-dir DIR          where the server secret is (with --public-url; use the same as serve)
Exit status: 0 written, 1 invalid inventory or unknown VM, 2 usage error.
`;

export async function renderCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      vm: { type: "string" }, all: { type: "boolean", default: false }, format: { type: "string" },
      out: { type: "string" }, iso: { type: "string" }, images: { type: "boolean", default: false }, "network-config": { type: "string", default: "v1" },
      templates: { type: "string" }, help: { type: "boolean", short: "h" },
      "public-url": { type: "string" }, "state-dir": { type: "string" },
    },
  });
  if (values.help) { io.out(renderUsage); return EXIT_OK; }
  if (values["state-dir"] !== undefined && values["public-url"] === undefined) throw new UsageError("--state-dir is only used with --public-url");
  if (values["public-url"] !== undefined) {
    try { agentUrl(values["public-url"]); } catch (err) { throw new UsageError(`--public-url: ${(err as Error).message}`); }
  }
  if (positionals.length !== 1) throw new UsageError("render takes exactly one INVENTORY file");
  const formatName = values.format ?? (values.all ? "nocloud" : undefined);
  if (formatName === undefined) throw new UsageError("--format is required (nocloud, configdrive or libvirt)");
  if (formatName === "libvirt") return renderLibvirt(positionals[0]!, values, io);
  if (!isSeedFormatName(formatName)) throw new UsageError(`unknown --format ${formatName}; use nocloud, configdrive or libvirt`);
  const ncv = values["network-config"];
  if (ncv !== "v1" && ncv !== "v2") throw new UsageError(`--network-config must be v1 or v2, not ${ncv}`);
  if (values.all === (values.vm !== undefined)) throw new UsageError("give exactly one of --vm NAME|ID and --all");

  const loaded = await loadOrReport(positionals[0]!, io, values.templates);
  if (!loaded.site) return EXIT_INVALID;
  const site = loaded.site;
  const base: RenderContext = { site, networkConfigVersion: ncv === "v2" ? 2 : 1 };
  const publicUrl = values["public-url"];
  // The same secret as the server's, so a seed written here carries the credential the server accepts.
  const secret = publicUrl ? (await loadOrCreateSecret(values["state-dir"] ? resolve(values["state-dir"]) : defaultStateDir().dir)).bytes : undefined;
  const ctxFor = (vm: ResolvedVm): RenderContext => (secret && publicUrl ? { ...base, agent: agentEnrollment(secret, vm.id, publicUrl) } : base);
  const timestamp = seedTimestamp();

  if (values.all) {
    if (values.out === undefined) throw new UsageError("--all needs --out DIR");
    if (values.iso !== undefined) throw new UsageError("with --all, use --out DIR --images for one ISO image per VM");
    const asImages = values.images;
    for (const vm of site.vms) {
      if (asImages) await writeImage(join(values.out, `${vm.name}.iso`), formatName, vm, ctxFor(vm), timestamp);
      else await writeSeedDir(join(values.out, vm.name), formatName, vm, ctxFor(vm));
    }
    io.err(`wrote ${site.vms.length} ${formatName} seed${site.vms.length === 1 ? "" : "s"} ${asImages ? "images " : ""}under ${values.out}\n`);
    return EXIT_OK;
  }

  const vm = findVm(site, values.vm!);
  if (!vm) {
    io.err(`no VM named or with id ${values.vm} in ${positionals[0]} (VMs: ${listVms(site)})\n`);
    return EXIT_INVALID;
  }
  if ((values.out === undefined) === (values.iso === undefined)) throw new UsageError("give exactly one of --out DIR and --iso FILE");
  if (values.out !== undefined) {
    await writeSeedDir(values.out, formatName, vm, ctxFor(vm));
    io.err(`wrote ${formatName} seed for ${vm.name} to ${values.out}\n`);
  } else {
    await writeImage(values.iso!, formatName, vm, ctxFor(vm), timestamp);
    io.err(`wrote ${formatName} image (${SEED_FORMATS[formatName].volumeId}) for ${vm.name} to ${values.iso}\n`);
  }
  return EXIT_OK;
}

async function renderLibvirt(inventory: string, values: { vm?: string; all?: boolean; out?: string; iso?: string; templates?: string }, io: Io): Promise<number> {
  if (values.vm === undefined || values.all || values.iso !== undefined) throw new UsageError("--format libvirt takes --vm NAME|ID and optionally --out FILE");
  const loaded = await loadOrReport(inventory, io, values.templates);
  if (!loaded.site) return EXIT_INVALID;
  const vm = findVm(loaded.site, values.vm);
  if (!vm) {
    io.err(`no VM named or with id ${values.vm} in ${inventory} (VMs: ${listVms(loaded.site)})\n`);
    return EXIT_INVALID;
  }
  const xml = renderLibvirtInterfaces(vm, loaded.site);
  if (values.out !== undefined) await writeAtomically(values.out, new TextEncoder().encode(xml));
  else io.out(xml);
  return EXIT_OK;
}

function listVms(site: ResolvedSite): string {
  const names = site.vms.slice(0, 10).map((v) => v.name);
  return names.join(", ") + (site.vms.length > 10 ? `, and ${site.vms.length - 10} more` : "") || "none";
}

/** Reproducible images when SOURCE_DATE_EPOCH is set (the reproducible-builds convention). */
function seedTimestamp(): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
}

async function writeSeedDir(dir: string, format: SeedFormatName, vm: ResolvedVm, ctx: RenderContext) {
  for (const f of seedFiles(format, vm, ctx)) {
    const path = join(dir, f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeAtomically(path, f.data);
  }
}

async function writeImage(path: string, format: SeedFormatName, vm: ResolvedVm, ctx: RenderContext, timestamp: Date) {
  await mkdir(dirname(path), { recursive: true });
  await writeAtomically(path, seedImage(format, vm, ctx, timestamp));
}

/** A reader (a VM booting from the image, a watcher) never sees a half-written file. */
async function writeAtomically(path: string, data: Uint8Array) {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode: 0o640 });
  await rename(tmp, path);
}
