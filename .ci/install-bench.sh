#!/usr/bin/env bash
# Installs the peer tools `npm run bench` compares model-monitor with (Debian).
# Not part of CI's test command: only the bench needs them. Idempotent; run as
# root. The servers themselves come from .ci/install-ftp-servers.sh (vsftpd,
# pure-ftpd) and nginx-light; s3rver and the WebHDFS server are npm/in-repo.
#   lftp    mirror -P 8                     (FTP)
#   rclone  copy --transfers 8              (FTP, S3, HTTP)
#   awscli  aws s3 sync                     (S3) — skipped when an `aws` is already on PATH
#   curl    -Z --parallel-max 8             (HTTP, WebHDFS)
#   time    GNU /usr/bin/time -f %M         (peak RSS of every tool, model-monitor included)
#   rsync   -a --no-whole-file DIR DIR      (bench:delta: rsync's delta figure for the same change)
set -euo pipefail
. "$(dirname "$0")/apt-lib.sh"

ensure lftp rclone curl time nginx-light rsync
# Debian 12 packages awscli 2.x; an aws already on PATH (pip's v1, the official v2) is used as is.
if ! command -v aws >/dev/null 2>&1; then
  if apt-cache policy awscli 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    ensure awscli
  else
    apt_update_once
    if apt-cache policy awscli | grep -q 'Candidate: [0-9]'; then ensure awscli; else echo "awscli: no Debian package here; aws s3 sync will be skipped" >&2; fi
  fi
fi

echo "bench tools: $(lftp --version | head -1); $(rclone version | head -1); $(curl --version | head -1 | cut -d' ' -f1-2);" \
  "$(command -v aws >/dev/null && aws --version 2>&1 | cut -d' ' -f1 || echo 'no aws')"
