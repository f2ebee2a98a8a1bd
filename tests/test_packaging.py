"""The package as users install it: imports from outside the checkout, and linting never
pulls in torch or transformers."""

import subprocess
import sys


def test_import_works_outside_the_checkout_without_torch(tmp_path):
    code = (
        "import sys, tunelint.linter, tunelint.server, tunelint.trainer\n"
        "from tunelint.linter.engine import Linter\n"
        "from tunelint.linter.settings import Settings\n"
        "r = Linter(use_cache=False, jobs=1).lint_text('{\"messages\": []}\\n', 'x.jsonl', Settings())\n"
        "assert r.findings, r\n"
        "bad = [m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print(tunelint.linter.__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("linter/__init__.py")
