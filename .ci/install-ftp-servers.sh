#!/usr/bin/env bash
# Installs the real FTP servers the FTP source tests run against (Debian).
# Idempotent; run as root (CI does). `apt-get update` runs only when an install
# or download fails without it.
#   vsftpd            apt package (no MLSD: exercises LIST parsing)
#   pyftpdlib         apt package python3-pyftpdlib, run with /usr/bin/python3
#   pure-ftpd         conflicts with vsftpd as a package, so it is unpacked into
#                     /opt/pure-ftpd (apt-get download + dpkg-deb -x) and only its
#                     shared libraries are installed
#   openssl           the FTPS test makes a self-signed certificate; pure-ftpd's
#                     test hashes its virtual user's password
set -euo pipefail

PURE_DIR=/opt/pure-ftpd
. "$(dirname "$0")/apt-lib.sh"

ensure vsftpd python3-pyftpdlib openssl
# The package may start vsftpd on port 21; the tests run their own instances.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet vsftpd 2>/dev/null; then
  systemctl stop vsftpd || true
fi

if [ ! -x "$PURE_DIR/usr/sbin/pure-ftpd" ] || [ ! -x "$PURE_DIR/usr/bin/pure-pw" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  chown _apt "$work" 2>/dev/null || chmod 0777 "$work" # apt-get download runs as _apt
  (cd "$work" && apt-get download -qq pure-ftpd) || {
    apt_update_once
    (cd "$work" && apt-get download -qq pure-ftpd)
  }
  mkdir -p "$PURE_DIR"
  dpkg-deb -x "$work"/pure-ftpd_*.deb "$PURE_DIR"
fi

# pure-ftpd's shared libraries (libssl, libsodium, libcap, libpam, libcrypt): its
# `lib*` dependencies, whatever this release calls them.
mapfile -t libs < <(apt-cache depends pure-ftpd 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^lib/ { print $2 }')
if [ "${#libs[@]}" -eq 0 ]; then
  apt_update_once
  mapfile -t libs < <(apt-cache depends pure-ftpd | awk '$1 == "Depends:" && $2 ~ /^lib/ { print $2 }')
fi
ensure "${libs[@]}"

for bin in "$PURE_DIR/usr/sbin/pure-ftpd" "$PURE_DIR/usr/bin/pure-pw"; do
  if ldd "$bin" | grep -q 'not found'; then
    echo "$bin still misses shared libraries:" >&2
    ldd "$bin" | grep 'not found' >&2
    exit 1
  fi
done

echo "ftp servers: $(command -v vsftpd), $PURE_DIR/usr/sbin/pure-ftpd," \
  "pyftpdlib $(/usr/bin/python3 -c 'import pyftpdlib; print(pyftpdlib.__ver__)')"
