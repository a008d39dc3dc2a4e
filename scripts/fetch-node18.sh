#!/usr/bin/env bash
# Fetches Debian 12's Node 18 (nodejs + libnode108) into a cache directory WITHOUT installing it, and prints
# the path of a wrapper that runs that node with its libraries. The agent must run on Debian 12's nodejs;
# the tests use this to prove the bundle does. Never touches the machine's own node.
#   usage: scripts/fetch-node18.sh        -> prints e.g. ~/.cache/guestlink/node18/node
set -euo pipefail

cache="${GUESTLINK_CACHE:-$HOME/.cache/guestlink}/node18"
wrapper="$cache/node"
if [ -x "$wrapper" ] && "$wrapper" -e 'process.exit(process.versions.node.startsWith("18.") ? 0 : 1)' 2>/dev/null; then
  echo "$wrapper"
  exit 0
fi

mkdir -p "$cache/debs" "$cache/root"
ver="$(apt-cache madison nodejs 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); if ($2 ~ /^18\./) {print $2; exit}}')"
if [ -z "$ver" ]; then
  echo "fetch-node18: no nodejs 18.x known to apt; run 'apt-get update' (Debian 12 sources needed)" >&2
  exit 1
fi

cd "$cache/debs"
apt-get download "nodejs=$ver" "libnode108=$ver" >/dev/null
# Shared libraries libnode108 links against that this machine lacks are fetched and unpacked too.
for dep in $(apt-cache depends libnode108 2>/dev/null | awk '/Depends:/ {print $2}' | tr -d '<>' | sort -u); do
  dpkg -s "$dep" >/dev/null 2>&1 || apt-get download "$dep" >/dev/null 2>&1 || true
done
for deb in "$cache"/debs/*.deb; do
  dpkg-deb -x "$deb" "$cache/root"
done

# Debian builds node with some builtins (cjs-module-lexer, undici, acorn) loaded from /usr/share/nodejs at
# start-up; that path is compiled in. Rather than writing into /usr/share, patch our unpacked copy of
# libnode to look in a same-length path under /tmp that links to the unpacked files.
jsdir="/tmp/gl-node18-js"   # exactly as long as /usr/share/nodejs
lib="$(find "$cache/root" -name 'libnode.so.108' -type f | head -n1)"
[ -n "$lib" ] || { echo "fetch-node18: libnode.so.108 not found in the unpacked packages" >&2; exit 1; }
perl -pi -e 's#/usr/share/nodejs/#/tmp/gl-node18-js/#g' "$lib"
ln -sfn "$cache/root/usr/share/nodejs" "$jsdir"

bin="$cache/root/usr/bin/node"
[ -x "$bin" ] || bin="$cache/root/usr/bin/nodejs"
libdirs="$cache/root/usr/lib/x86_64-linux-gnu:$cache/root/usr/lib/$(uname -m)-linux-gnu:$cache/root/usr/lib:$cache/root/lib/$(uname -m)-linux-gnu"
cat > "$wrapper" <<WRAP
#!/bin/sh
# Debian 12's node $ver, unpacked (not installed) by scripts/fetch-node18.sh
[ -e "$jsdir" ] || ln -sfn "$cache/root/usr/share/nodejs" "$jsdir"
LD_LIBRARY_PATH="$libdirs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$bin" "\$@"
WRAP
chmod +x "$wrapper"
"$wrapper" -e 'if (!process.versions.node.startsWith("18.")) { console.error("not node 18: " + process.version); process.exit(1) }' >&2
echo "$wrapper"
