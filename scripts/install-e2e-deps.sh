#!/usr/bin/env bash
# Installs what the end-to-end test needs on a fresh Debian 12 machine, on top of the test peers
# (scripts/install-test-deps.sh): QEMU to boot the guest, debootstrap and mkfs.ext4 to build its
# image, genisoimage for the agent disk, and fakeroot for the agent package.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt-install-missing.sh
apt_install_missing "e2e packages" qemu-system-x86 qemu-utils debootstrap e2fsprogs genisoimage fakeroot iproute2
[ -d node_modules ] || npm ci --no-audit --no-fund
