"""Baseline: Together's client-side file check, `together.utils.check_file` (together<2).

This is what `together files check FILE` and `together files upload FILE` run before an upload:
a UTF-8 pass over the file, then `json.loads` and format/role/alternation checks per line. It
counts no tokens, and it stops at the first problem it finds.

together<2 pins versions that may clash with tunelint's venv (pip would downgrade filelock), so
run this with the Python of a separate venv:

    python -m venv /tmp/venv-together && /tmp/venv-together/bin/pip install 'together<2'
    /tmp/venv-together/bin/python bench/baselines/together_check.py FILE.jsonl

Prints one JSON object: the fields of check_file's report that say how far it got.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TOGETHER_NO_BANNER", "1")

from together.utils import check_file  # noqa: E402


def main() -> None:
    report = check_file(sys.argv[1])
    keys = ("is_check_passed", "message", "num_samples", "line_number", "file_size")
    print(json.dumps({k: report.get(k) for k in keys}, ensure_ascii=False))


if __name__ == "__main__":
    main()
