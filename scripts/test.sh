#!/usr/bin/env bash
# Set up, then run the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# tests/lsp/test_neovim.py drives a real Neovim; install Debian's when we can, else it skips.
if ! command -v nvim >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing neovim for the Neovim end-to-end test..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim; } >/dev/null 2>&1; then
    echo "could not install neovim with apt-get; the Neovim test will skip" >&2
  fi
fi
.venv/bin/python -m pytest -n 2 -q "$@"
