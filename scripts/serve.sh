#!/usr/bin/env bash
# Install afgdb (and gdb-multiarch to talk to it) and start the server on the
# shipped rootfs. Extra arguments go to `afgdb serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v gdb-multiarch >/dev/null || need+=(gdb-multiarch)
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -d .venv ] || python3 -m venv .venv
.venv/bin/pip install -q -e . >/dev/null
exec .venv/bin/afgdb serve "$@"
