#!/bin/sh
# Installs what test/e2e/examples.test.ts needs to check examples/model-monitor.service:
# systemd-analyze (package "systemd" on Debian and Ubuntu). Idempotent: does
# nothing when systemd-analyze is already on PATH. Needs root or sudo.
set -eu

if command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze already installed: $(systemd-analyze --version | head -n 1)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-systemd.sh: no apt-get here; install systemd-analyze (package systemd) by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-systemd.sh: must run as root (or with sudo available)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# systemd only for its tools: nothing is started in a container without an init.
$SUDO apt-get install -y -qq --no-install-recommends systemd >/dev/null

command -v systemd-analyze >/dev/null 2>&1 || {
  echo "install-systemd.sh: systemd installed but systemd-analyze is not on PATH" >&2
  exit 1
}
echo "installed: $(systemd-analyze --version | head -n 1)"
