# Shared by the .ci/install-*.sh scripts (sourced): install Debian packages only when missing,
# running `apt-get update` only if an install fails for want of it.
export DEBIAN_FRONTEND=noninteractive

updated=0
apt_update_once() {
  if [ "$updated" = 0 ]; then
    apt-get update -qq
    updated=1
  fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Installs the packages named that are not installed yet.
ensure() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" || {
    apt_update_once
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  }
}
