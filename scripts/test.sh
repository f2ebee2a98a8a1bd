#!/usr/bin/env bash
# Set up, then run the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,train,serve,ray,parquet
# tests/lsp/test_neovim.py drives a real Neovim; install Debian's when we can, else it skips.
if ! command -v nvim >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing neovim for the Neovim end-to-end test..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim; } >/dev/null 2>&1; then
    echo "could not install neovim with apt-get; the Neovim test will skip" >&2
  fi
fi
# tests/lsp/test_emacs.py drives a real Emacs (eglot); Debian's emacs-nox is 28.2, whose eglot
# comes from elpa-eglot (Emacs 29+ has it built in). Without them the Emacs test skips.
if ! { command -v emacs >/dev/null 2>&1 && emacs --batch --eval "(require 'eglot)" >/dev/null 2>&1; } \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing emacs-nox and elpa-eglot for the Emacs end-to-end test..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq emacs-nox elpa-eglot; } >/dev/null 2>&1; then
    echo "could not install emacs-nox/elpa-eglot with apt-get; the Emacs test will skip" >&2
  fi
fi
# The VS Code extension (editor-client/): its unit tests run against a stubbed `vscode` module;
# TUNELINT_PYTHON adds one end-to-end test against the real server in .venv.
if command -v npm >/dev/null 2>&1; then
  (cd editor-client && npm ci --no-audit --no-fund && TUNELINT_PYTHON="$(cd .. && pwd)/.venv/bin/python" npm test)
else
  echo "npm not found: skipping the VS Code extension tests (editor-client/)" >&2
fi
# lint first: its configuration is in pyproject.toml
.venv/bin/ruff check .
.venv/bin/python -m pytest -n 2 -q "$@"
