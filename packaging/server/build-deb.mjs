// Builds the guestlink-server .deb with dpkg-deb from the already built bundle (npm run build).
// Usage: node packaging/server/build-deb.mjs [--out DIR]   (prints the path of the .deb)
// Layout: the bundle and the one native runtime dependency (koffi, for this build machine's
// platform) under /usr/lib/guestlink,
// /usr/bin/guestlink a symlink to it, the hardened unit, and /etc/guestlink/ with a default
// server.yaml and an example inventory (both conffiles).
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const { values } = parseArgs({ options: { out: { type: "string", default: join(repo, "dist") } } });

const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
const bundle = join(repo, "bin", "guestlink");
if (!existsSync(bundle)) {
  console.error("bin/guestlink is missing: run `npm run build` first");
  process.exit(1);
}
const arch = spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).stdout.trim() || "amd64";
const version = process.env.GUESTLINK_DEB_VERSION ?? pkg.version;

const stage = mkdtempSync(join(tmpdir(), "guestlink-deb-"));
// The staging root becomes the package root: it must not carry mkdtemp's private mode.
chmodSync(stage, 0o755);
try {
  const put = (from, to, mode) => {
    mkdirSync(dirname(join(stage, to)), { recursive: true });
    copyFileSync(from, join(stage, to));
    chmodSync(join(stage, to), mode);
  };
  put(bundle, "usr/lib/guestlink/bin/guestlink", 0o755);
  // koffi (the DHCP service's raw sockets) loads its native part from a per-platform package.
  cpSync(join(repo, "node_modules", "koffi"), join(stage, "usr/lib/guestlink/node_modules/koffi"), { recursive: true });
  const native = `@koromix/koffi-${process.platform}-${process.arch}`;
  cpSync(join(repo, "node_modules", native), join(stage, "usr/lib/guestlink/node_modules", native), { recursive: true });
  mkdirSync(join(stage, "usr/bin"), { recursive: true });
  symlinkSync("../lib/guestlink/bin/guestlink", join(stage, "usr/bin/guestlink"));
  for (const t of readdirSync(join(repo, "cloud-init-templates"))) {
    put(join(repo, "cloud-init-templates", t), `usr/share/guestlink/cloud-init-templates/${t}`, 0o644);
  }
  put(join(here, "guestlink-metadata.service"), "lib/systemd/system/guestlink-metadata.service", 0o644);
  put(join(here, "guestlink-dhcp.service"), "lib/systemd/system/guestlink-dhcp.service", 0o644);
  put(join(here, "guestlink-dhcp.default"), "etc/default/guestlink-dhcp", 0o644);
  put(join(here, "server.yaml"), "etc/guestlink/server.yaml", 0o644);
  put(join(repo, "examples", "inventory.yaml"), "etc/guestlink/inventory.yaml", 0o644);
  put(join(here, "low-port.conf"), "usr/share/doc/guestlink-server/examples/low-port.conf", 0o644);
  for (const doc of ["http.md", "dhcp.md"]) put(join(repo, "docs", doc), `usr/share/doc/guestlink-server/${doc}`, 0o644);
  for (const script of ["postinst", "prerm", "postrm"]) put(join(here, script), `DEBIAN/${script}`, 0o755);
  writeFileSync(join(stage, "DEBIAN", "conffiles"), "/etc/guestlink/server.yaml\n/etc/guestlink/inventory.yaml\n/etc/default/guestlink-dhcp\n");
  const installedSize = Number(spawnSync("du", ["-sk", "--exclude=DEBIAN", stage], { encoding: "utf8" }).stdout.split("\t")[0]);
  writeFileSync(join(stage, "DEBIAN", "control"), [
    "Package: guestlink-server",
    `Version: ${version}`,
    `Architecture: ${arch}`,
    "Maintainer: guestlink maintainers <guestlink@example.org>",
    `Installed-Size: ${installedSize}`,
    "Depends: nodejs (>= 20), adduser",
    "Section: admin",
    "Priority: optional",
    "Homepage: https://example.org/guestlink",
    "Description: guestlink metadata server",
    " Serves cloud-init data to virtual machines over HTTP: NoCloud-net by seed token, the",
    " OpenStack metadata service and EC2 IMDS by source address, from one inventory file,",
    " with a hardened systemd unit running as its own user.",
    " .",
    " guestlink-dhcp serves DHCPv4, DHCPv6 and IPv6 router advertisements carrying each",
    " network's MTU, addresses, routes and DNS from the same inventory, on the interfaces",
    " named in /etc/default/guestlink-dhcp.",
    "",
  ].join("\n"));
  mkdirSync(values.out, { recursive: true });
  const out = join(resolve(values.out), `guestlink-server_${version}_${arch}.deb`);
  const r = spawnSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", stage, out], { encoding: "utf8" });
  if (r.status !== 0) {
    console.error(r.stderr || r.stdout);
    process.exit(1);
  }
  console.log(out);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
