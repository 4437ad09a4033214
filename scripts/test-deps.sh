#!/usr/bin/env bash
# System packages the test suite uses as real parts: OpenSSH (a real sshd on loopback) and
# Chromium (the report in a real browser). QEMU and the arm64 userland come from
# scripts/aarch64-env.sh. Idempotent: installs only what is missing; needs root (or sudo).
set -euo pipefail

missing=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "[test-deps] not root: cannot install ${missing[*]}; the tests that need them will skip"
    exit 0
  fi
fi
echo "[test-deps] installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
