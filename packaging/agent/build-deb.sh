#!/usr/bin/env bash
# Builds guestlink-agent_<version>_all.deb with dpkg-deb: the Node bundle, a systemd unit, the udev rule,
# and compatibility links, so it drops in for qemu-guest-agent (Conflicts/Replaces/Provides).
#   usage: packaging/agent/build-deb.sh [OUTDIR]      (runs the agent bundle build first)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/dist}"
version="$(node -p 'require(process.argv[1]).version' "$repo/package.json")"
maintainer="${GUESTLINK_MAINTAINER:-guestlink maintainers <packaging@guestlink.invalid>}"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
bundle="$stage/bundle/guestlink-agent"
mkdir -p "$stage/bundle"
# Exactly the bundle the tests run (packaging/build.mjs: CommonJS for node18, with import.meta.url
# defined for the ESM-only dependencies); a second set of esbuild options here once drifted from it.
(cd "$repo" && node packaging/build.mjs >&2)
cp "$repo/bin/guestlink-agent" "$bundle"

root="$stage/root"
# Debian policy: interpreters by absolute path (nodejs installs /usr/bin/node).
sed -i '1s|^#!/usr/bin/env node|#!/usr/bin/node|' "$bundle"
install -D -m 0755 "$bundle" "$root/usr/lib/guestlink-agent/guestlink-agent"
mkdir -p "$root/usr/bin" "$root/usr/sbin"
ln -s ../lib/guestlink-agent/guestlink-agent "$root/usr/bin/guestlink-agent"
# Scripts and units that call qemu-ga by path keep working.
ln -s ../bin/guestlink-agent "$root/usr/sbin/qemu-ga"
install -D -m 0644 "$here/guestlink-agent.service" "$root/lib/systemd/system/guestlink-agent.service"
# `systemctl start qemu-guest-agent` (cloud images, docs) starts us.
ln -s guestlink-agent.service "$root/lib/systemd/system/qemu-guest-agent.service"
install -D -m 0644 "$here/60-guestlink-agent.rules" "$root/lib/udev/rules.d/60-guestlink-agent.rules"
install -D -m 0644 "$here/guestlink-agent.8" "$root/usr/share/man/man8/guestlink-agent.8"
gzip -9n "$root/usr/share/man/man8/guestlink-agent.8"
ln -s guestlink-agent.8.gz "$root/usr/share/man/man8/qemu-ga.8.gz"
# The one lintian exception, explained where lintian reads it.
install -d "$root/usr/share/lintian/overrides"
cat > "$root/usr/share/lintian/overrides/guestlink-agent" <<'OVERRIDES'
# The unit is static (udev starts it when the virtio port appears, as qemu-guest-agent's is), and
# deb-systemd-invoke refuses to start a static unit that is not running. On a guest that is already
# up, udev has seen the port, so postinst starts the agent with systemctl --no-block.
guestlink-agent: maintainer-script-calls-systemctl [postinst:*]
OVERRIDES
doc="$root/usr/share/doc/guestlink-agent"
install -d "$doc"
cat > "$doc/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: guestlink
Source: https://example.invalid/guestlink

Files: *
Copyright: 2026 the guestlink authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
COPY
printf 'guestlink-agent (%s) unstable; urgency=medium\n\n  * Package the guestlink agent.\n\n -- %s  %s\n' \
  "$version" "$maintainer" "$(date -R -d @"${SOURCE_DATE_EPOCH:-0}")" | gzip -9n > "$doc/changelog.gz"  # a native package: changelog.gz

mkdir -p "$root/DEBIAN"
installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat > "$root/DEBIAN/control" <<CTRL
Package: guestlink-agent
Version: $version
Architecture: all
Maintainer: $maintainer
Installed-Size: $installed_kb
Depends: nodejs (>= 18)
Conflicts: qemu-guest-agent
Replaces: qemu-guest-agent
Provides: qemu-guest-agent
Section: admin
Priority: optional
Homepage: https://example.invalid/guestlink
Description: QEMU Guest Agent compatible agent that also reports link state
 A drop-in replacement for qemu-guest-agent: same virtio-serial port, flags,
 configuration file and bytes on the wire (qemu-ga 7.2), so libvirt, oVirt,
 KubeVirt and Proxmox work unchanged. It also answers
 __org.guestlink_guest-network-get-links with link state, carrier, MTU,
 speed, duplex, driver and interface kind.
CTRL
cat > "$root/DEBIAN/postinst" <<'POST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
  udevadm control --reload-rules >/dev/null 2>&1 || true
  # The unit is static: udev starts it when the port appears, at boot or on hotplug. Installed on
  # a running guest (cloud-init, an upgrade), udev has already seen the port, and
  # deb-systemd-invoke refuses to start a static unit that is not running, so start it here.
  # restart also starts it when it is not running; --no-block never holds dpkg (or cloud-init's
  # bootcmd) on the agent's start-up.
  if [ -e /dev/virtio-ports/org.qemu.guest_agent.0 ]; then
    systemctl --no-block restart guestlink-agent.service >/dev/null || true
  fi
fi
POST
cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  deb-systemd-invoke stop guestlink-agent.service >/dev/null 2>&1 || true
fi
PRERM
cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums)

mkdir -p "$out"
deb="$out/guestlink-agent_${version}_all.deb"
fakeroot dpkg-deb --build -Zxz "$root" "$deb" >/dev/null
echo "$deb"
