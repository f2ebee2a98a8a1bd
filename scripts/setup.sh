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
case ",$extras," in
  *,train,*)
    # the CPU build of torch this machine carries; a plain `torch` could pull a multi-GB CUDA build.
    # Elsewhere (a GPU machine) install the torch you want first: this leaves a newer one alone.
    .venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install --quiet "torch==2.13.0" ;;
esac
.venv/bin/python -m pip install --quiet -e "$spec"
