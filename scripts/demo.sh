#!/usr/bin/env bash
# Set up, then lint the bundled example dataset (exit code 1: it has errors on purpose).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/tunelint check examples/ || status=$?
echo
echo "(exit code ${status:-0}: examples/ contains deliberate faults; see examples/README.md)"
