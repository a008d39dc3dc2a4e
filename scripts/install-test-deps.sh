#!/usr/bin/env bash
# Installs everything the test suite talks to, on a fresh Debian 12 machine, then the npm packages.
# The tests run against the real programs, never mocks of them, so every peer is listed here.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

peers=(
  cloud-init              # its own datasource readers and renderers judge our seeds
  xorriso genisoimage     # osirrox/xorriso and isoinfo read our ISO images back; genisoimage is the bench peer
  util-linux              # blkid: how cloud-init's ds-identify finds cidata/config-2
  qemu-guest-agent        # the agent's differential conformance peer
  socat                   # pty pairs standing in for a virtio-serial port
  lintian fakeroot        # the agent's .deb is built and checked by lintian
  libvirt-clients libxml2-utils  # virt-xml-validate (libvirt's schemas) checks our <interface> elements
  dnsmasq radvd           # render-dhcp output must pass their own config checks
  isc-dhcp-client udhcpc dhcpcd-base ndisc6   # real DHCP/RA clients in network namespaces
  kea-admin               # perfdhcp: a real DHCP client at volume (and the DHCP bench's load generator)
  iproute2 jq
  chromium                # the console is tested in a real browser (driven by playwright-core)
  nginx                   # a real reverse proxy in front of the server: what it forwards must stay guest traffic
  strace systemd          # what the packaged server calls, against its unit's SystemCallFilter (systemd-analyze)
)
source scripts/apt-install-missing.sh
apt_install_missing "test peers" "${peers[@]}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
# Packages can install services that start by themselves; the tests start their own instances.
for svc in dnsmasq radvd qemu-guest-agent nginx; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
# The agent must run on Debian 12's own Node 18: fetch it (unpacked, never installed) for the tests.
if ! apt-cache madison nodejs 2>/dev/null | grep -q '| 18\.'; then $SUDO apt-get update -qq; fi
bash scripts/fetch-node18.sh >/dev/null
npm ci --no-audit --no-fund
