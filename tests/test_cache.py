"""The per-line cache: keyed by line content, so edits, moves and renames reuse it."""

import json

from tunelint.linter.engine import Linter
from tunelint.linter.settings import Settings

S = Settings(profile="hf")


def lines(n, salt=""):
    return [json.dumps({"messages": [{"role": "user", "content": f"question {i}{salt}"},
                                     {"role": "assistant", "content": f"answer {i}"}]}) for i in range(n)]


def lint(path):
    with Linter(jobs=1) as linter:
        return linter.lint_paths([str(path)], lambda _: S)[0]


def test_warm_run_analyses_only_changed_lines_and_gives_the_same_findings(tmp_path):
    p = tmp_path / "train.jsonl"
    data = lines(300)
    data[5] = data[5].replace('"assistant"', '"bot"')
    p.write_text("\n".join(data) + "\n")
    cold = lint(p)
    assert (cold.stats.analysed, cold.stats.cached) == (300, 0)
    data[7] = data[7].replace("question 7", "question seven")
    data[9] = data[9].replace('"user"', '"human"')
    p.write_text("\n".join(data) + "\n")
    warm = lint(p)
    assert (warm.stats.analysed, warm.stats.cached) == (2, 298)
    assert [(f.line, f.code) for f in warm.findings] == [(5 + 1, "TL104"), (9 + 1, "TL104")]


def test_renamed_and_reordered_file_reuses_the_cache(tmp_path):
    p = tmp_path / "a.jsonl"
    data = lines(100)
    p.write_text("\n".join(data) + "\n")
    lint(p)
    q = tmp_path / "b.jsonl"
    q.write_text("\n".join(reversed(data)) + "\n")
    assert lint(q).stats.analysed == 0


def test_no_cache_and_a_corrupt_cache_still_lint(tmp_path, monkeypatch):
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(lines(10)) + "\n")
    with Linter(use_cache=False, jobs=1) as linter:
        assert linter.lint_paths([str(p)], lambda _: S)[0].stats.analysed == 10
    cache_dir = tmp_path / "broken"
    cache_dir.mkdir()
    (cache_dir / "lines.sqlite3").write_bytes(b"this is not sqlite")
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(cache_dir))
    assert lint(p).findings == []
    again = lint(p)  # the damaged file was replaced by a working cache
    assert again.findings == [] and (again.stats.analysed, again.stats.cached) == (0, 10)


def test_settings_change_invalidates(tmp_path):
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(lines(5)) + "\n")
    lint(p)
    with Linter(jobs=1) as linter:
        r = linter.lint_paths([str(p)], lambda _: Settings(profile="hf", max_tokens=5))[0]
    assert r.stats.analysed == 5
    assert {f.code for f in r.findings} == {"TL701", "TL703"}


def test_parallel_workers_give_the_same_findings_as_one_process(tmp_path):
    p = tmp_path / "train.jsonl"
    data = lines(4000, salt=" x")
    for i in range(0, 4000, 97):
        data[i] = data[i].replace('"assistant"', '"bot"')
    p.write_text("\n".join(data) + "\n")
    with Linter(use_cache=False, jobs=2) as two, Linter(use_cache=False, jobs=1) as one:
        a = two.lint_paths([str(p)], lambda _: S)[0].findings
        b = one.lint_paths([str(p)], lambda _: S)[0].findings
    assert a == b and len(a) == len(range(0, 4000, 97))


def test_results_the_workers_stored_read_back_the_same(tmp_path, monkeypatch):
    """Workers hand back pickled results that go into the cache as they are."""
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    p = tmp_path / "train.jsonl"
    data = lines(3000, salt=" y")
    for i in range(0, 3000, 89):
        data[i] = data[i].replace('"assistant"', '"bot"')
    p.write_text("\n".join(data) + "\n")
    with Linter(jobs=2) as two:
        cold = two.lint_paths([str(p)], lambda _: S)[0]
    with Linter(jobs=1) as one:
        warm = one.lint_paths([str(p)], lambda _: S)[0]
    assert (cold.stats.analysed, warm.stats.cached) == (3000, 3000)
    assert warm.findings == cold.findings and len(cold.findings) == len(range(0, 3000, 89))
    assert list(warm.stats.tokens) == list(cold.stats.tokens)


def test_a_file_and_an_editor_buffer_share_cache_entries(tmp_path, monkeypatch):
    """Lines read from a file are keyed by their bytes, editor lines by their text: the same
    line must get the same key either way (BOM, CRLF and non-ASCII text included)."""
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    data = lines(40, salt=" — naïve 🙂 中文")
    content = "\ufeff" + "\r\n".join(data) + "\r\n"
    p = tmp_path / "train.jsonl"
    p.write_bytes(content.encode("utf-8"))
    with Linter(jobs=1) as linter:
        cold = linter.lint_paths([str(p)], lambda _: S)[0]
        buffer = linter.lint_text(content, str(p), S)
    assert (cold.stats.analysed, cold.stats.cached) == (40, 0)
    assert (buffer.stats.analysed, buffer.stats.cached) == (0, 40)
    assert [(f.line, f.code) for f in buffer.findings] == [(f.line, f.code) for f in cold.findings]
