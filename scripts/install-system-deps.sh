#!/usr/bin/env bash
# System packages afgdb's tests need (Debian): gdb-multiarch to debug with, the
# mipsel cross compiler to rebuild the guest programs, qemu-user to compare
# against, pypy3 for the fast interpreter. Idempotent; needs root or sudo.
set -euo pipefail
pkgs=(gdb-multiarch gcc-mipsel-linux-gnu libc6-dev-mipsel-cross qemu-user pypy3 pypy3-venv
      python3-venv make nginx-light openssh-server openssh-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
