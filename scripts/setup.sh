#!/usr/bin/env bash
# Create .venv (if needed) and install tunelint into it with the given extras, e.g. `dev`.
# torch, when an extra needs it, is pinned to the CPU build this machine carries.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
.venv/bin/python -m pip install --quiet -e "$spec"
