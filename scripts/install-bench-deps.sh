#!/usr/bin/env bash
# Installs the peers the benchmarks measure us against, on a fresh Debian 12 machine, on top of
# the test peers (scripts/install-test-deps.sh): every benchmark prints a ratio to a real program
# run in the same process tree, so a missing one would leave a benchmark without its yardstick.
#   kea-dhcp4-server  Kea 2.2, the DHCP bench's reference server (perfdhcp comes with kea-admin)
#   nginx-light wrk   the HTTP bench's reference server and load generator
# Idempotent; services the packages start on install are stopped: the benches start their own.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
source scripts/apt-install-missing.sh
apt_install_missing "bench peers" kea-dhcp4-server nginx-light wrk
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
for svc in kea-dhcp4-server nginx; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
