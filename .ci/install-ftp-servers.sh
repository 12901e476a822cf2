#!/usr/bin/env bash
# Installs the real FTP servers the FTP source tests run against (Debian).
# Idempotent; run as root (CI does). vsftpd and pure-ftpd conflict as packages,
# so pure-ftpd is unpacked into /opt/pure-ftpd instead of installed.
set -euo pipefail

PURE_DIR=/opt/pure-ftpd
export DEBIAN_FRONTEND=noninteractive

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

updated=0
apt_update_once() {
  if [ "$updated" = 0 ]; then
    apt-get update -qq
    updated=1
  fi
}

missing=()
for p in vsftpd python3-pyftpdlib openssl; do
  have_pkg "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${missing[@]}" || {
    apt_update_once
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  }
fi
# The Debian package starts vsftpd on port 21; the tests run their own instances.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet vsftpd 2>/dev/null; then
  systemctl stop vsftpd || true
fi

if [ ! -x "$PURE_DIR/usr/sbin/pure-ftpd" ]; then
  work=$(mktemp -d)
  chown _apt "$work" 2>/dev/null || chmod 0777 "$work" # apt-get download runs as _apt
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq pure-ftpd) || {
    apt_update_once
    (cd "$work" && apt-get download -qq pure-ftpd)
  }
  mkdir -p "$PURE_DIR"
  dpkg-deb -x "$work"/pure-ftpd_*.deb "$PURE_DIR"
fi

# pure-ftpd's libraries (libcap2, libssl3, libsodium23, libpam0g, libcrypt1...) are
# pulled in by most base images; report what is still missing instead of guessing.
if ldd "$PURE_DIR/usr/sbin/pure-ftpd" | grep -q 'not found'; then
  echo "pure-ftpd needs libraries that are not installed:" >&2
  ldd "$PURE_DIR/usr/sbin/pure-ftpd" | grep 'not found' >&2
  exit 1
fi

echo "ftp servers: $(command -v vsftpd) $PURE_DIR/usr/sbin/pure-ftpd pyftpdlib $(/usr/bin/python3 -c 'import pyftpdlib; print(pyftpdlib.__ver__)')"
