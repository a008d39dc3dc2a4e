# Sourced by the install scripts: apt_install_missing LABEL PACKAGE... installs the packages that
# are not installed yet (one apt-get update, only when something is missing), as root or via sudo.
apt_install_missing() {
  local label=$1; shift
  local sudo="" p missing=()
  [ "$(id -u)" = 0 ] || sudo=sudo
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing $label: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
