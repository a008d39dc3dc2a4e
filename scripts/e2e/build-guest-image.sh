#!/usr/bin/env bash
# Builds the Debian 12 guest that the end-to-end test boots: a root filesystem image plus the kernel
# and initrd to boot it with QEMU's -kernel/-initrd. It has cloud-init, systemd, iproute2, ifupdown
# with ISC dhclient (Debian's default cloud-init renderer path) and Debian's nodejs 18, and no
# qemu-guest-agent: our agent arrives through the seed, like any other package a user would add.
#
#   usage: scripts/e2e/build-guest-image.sh CACHE_DIR
# Prints the image directory on stdout. The directory is named after a hash of this file, so a
# change to the recipe builds a new image and an unchanged recipe reuses the cached one.
# No loop devices and no nbd: debootstrap into a directory, then mkfs.ext4 -d.
set -euo pipefail
cache="${1:?usage: build-guest-image.sh CACHE_DIR}"
recipe_hash="$(sha256sum "$0" | cut -c1-16)"
out="$cache/guest-$recipe_hash"
log() { echo "[guest-image $(date +%T)] $*" >&2; }

if [ -s "$out/root.img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then
  log "cached: $out"; echo "$out"; exit 0
fi
for tool in debootstrap mkfs.ext4 chroot; do
  command -v "$tool" >/dev/null || { log "missing $tool (scripts/install-e2e-deps.sh installs it)"; exit 1; }
done

# The first Debian mirror in this machine's apt sources (deb822 or one-line format).
mirror="$(
  { awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) print $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null
    awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) print $i }' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; } | head -n1 || true
)"
[ -n "$mirror" ] || { log "no Debian mirror in the apt sources"; exit 1; }

packages=(
  systemd-sysv udev dbus kmod linux-image-amd64 initramfs-tools
  cloud-init python3-cffi-backend   # debootstrap does not resolve cryptography's virtual cffi dependency
  iproute2 ifupdown isc-dhcp-client netbase procps iputils-ping
  nodejs                            # Debian 12's Node 18: what the agent bundle must run on
  locales openssh-client            # cc_locale needs update-locale, cc_ssh needs ssh-keygen
)
work="$cache/build-$recipe_hash.tmp"
rootfs="$work/rootfs"
rm -rf --one-file-system "$work"
mkdir -p "$work" "$cache/debs"
started=$(date +%s)
log "debootstrap bookworm into $rootfs (a few minutes; the log is $work/build.log)"
# One retry: a mirror hiccup should not fail a CI run. Packages already fetched stay in debs/.
for attempt in 1 2; do
  if debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" --cache-dir="$cache/debs" \
    bookworm "$rootfs" "$mirror" >>"$work/build.log" 2>&1; then
    break
  fi
  tail -20 "$work/build.log" >&2
  [ "$attempt" = 2 ] && { log "debootstrap failed twice"; exit 1; }
  log "debootstrap failed; retrying once"
  rm -rf --one-file-system "$rootfs"
done

r="$rootfs"
echo guest > "$r/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' > "$r/etc/hosts"
echo 'LABEL=guest-root / ext4 defaults,errors=remount-ro 0 0' > "$r/etc/fstab"
# Debugging aid: root logs in on the serial console without a password (the serial log is kept).
chroot "$r" passwd -d root >/dev/null
mkdir -p "$r/etc/systemd/system/serial-getty@ttyS0.service.d"
printf '[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200 %%I $TERM\n' \
  > "$r/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"
mkdir -p "$r/etc/network/interfaces.d"
printf 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n' > "$r/etc/network/interfaces"
cat > "$r/etc/cloud/cloud.cfg.d/90-guestlink-e2e.cfg" <<'CFG'
# Only a NoCloud seed (the cidata ISO) is looked for.
datasource_list: [ NoCloud ]
# C.UTF-8 needs no locale-gen, which is slow under TCG.
locale: C.UTF-8
# One cheap host key type (an empty list fails cloud-init's schema).
ssh_genkeytypes: [ ed25519 ]
CFG
# An offline image: no apt sources, no machine identity, no cloud-init state.
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
echo '# offline test image' > "$r/etc/apt/sources.list"
rm -f "$r"/etc/apt/sources.list.d/*
: > "$r/etc/resolv.conf"; : > "$r/etc/machine-id"; rm -f "$r/var/lib/dbus/machine-id"
rm -rf "$r"/var/lib/cloud/* "$r"/var/log/*.log

chroot "$r" dpkg-query -W -f '${Package} ${Version}\n' > "$work/packages.txt"
cp "$r"/boot/vmlinuz-* "$work/vmlinuz"
cp "$r"/boot/initrd.img-* "$work/initrd.img"
truncate -s 3G "$work/root.img"
mkfs.ext4 -q -F -L guest-root -d "$r" "$work/root.img"
rm -rf --one-file-system "$rootfs"
echo "build_seconds=$(( $(date +%s) - started ))" > "$work/build-time.txt"
rm -rf "$out"; mv "$work" "$out"
# Images of earlier recipes are dead weight (about 1 GB each): keep only this one.
for old in "$cache"/guest-*; do
  [ "$old" = "$out" ] || rm -rf --one-file-system "$old"
done
log "built $out in $(( $(date +%s) - started )) s"
echo "$out"
