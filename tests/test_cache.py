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


def _faulty_file(tmp_path, n: int, salt: str, every: int | None = None):
    """train.jsonl of n lines, one in `every` with a wrong role; (its path, its lines)."""
    p = tmp_path / "train.jsonl"
    data = lines(n, salt=salt)
    for i in range(0, n, every) if every else ():
        data[i] = data[i].replace('"assistant"', '"bot"')
    p.write_text("\n".join(data) + "\n")
    return p, data


def test_results_the_workers_stored_read_back_the_same(tmp_path, monkeypatch):
    """Workers hand back pickled results that go into the cache as they are."""
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    p, _ = _faulty_file(tmp_path, 3000, " y", 89)
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


def test_the_cache_keeps_at_most_its_bound_dropping_the_oldest(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TUNELINT_CACHE_MAX_LINES", "100")
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text("\n".join(lines(60, salt=" old")) + "\n")
    new.write_text("\n".join(lines(80, salt=" new")) + "\n")
    lint(old)
    assert lint(new).stats.analysed == 80
    # 140 written, bound 100: the oldest went (down to 90), the newest file is all there
    assert lint(new).stats.cached == 80
    assert 0 < lint(old).stats.analysed <= 60
    from tunelint.linter.cache import open_cache

    c = open_cache("x")
    assert c.db.execute("SELECT count(*) FROM results").fetchone()[0] <= 100
    c.close()


def test_a_bad_cache_bound_is_a_clear_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tunelint.cli import main

    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TUNELINT_CACHE_MAX_LINES", "lots")
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(lines(3)) + "\n")
    r = CliRunner().invoke(main, ["check", str(p)])
    assert r.exit_code == 2 and "TUNELINT_CACHE_MAX_LINES must be a whole number" in r.output


def test_a_cache_of_the_old_layout_is_replaced(tmp_path, monkeypatch):
    import sqlite3

    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    db = sqlite3.connect(cache_dir / "lines.sqlite3")
    db.execute("CREATE TABLE lines (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
    db.execute("INSERT INTO lines VALUES (x'00', x'00')")
    db.commit()
    db.close()
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(cache_dir))
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(lines(5)) + "\n")
    assert lint(p).stats.analysed == 5 and lint(p).stats.cached == 5
    names = {n for (n,) in sqlite3.connect(cache_dir / "lines.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"results"}


def test_lines_met_again_in_a_later_run_are_found_after_a_cold_start(tmp_path, monkeypatch):
    """A cold run skips its lookups; the next run through the same Linter (an editor's) must
    find what the first one stored."""
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    text = "\n".join(lines(30)) + "\n"
    with Linter(jobs=1) as linter:
        first = linter.lint_text(text, str(tmp_path / "train.jsonl"), S)
        second = linter.lint_text(text, str(tmp_path / "train.jsonl"), S)
    assert (first.stats.analysed, second.stats.cached) == (30, 30)


def _die(texts, prompts=True):
    import os

    os._exit(3)


def test_a_worker_that_dies_is_an_error_not_a_hang(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import pytest

    from tunelint.linter import engine

    monkeypatch.setattr(engine, "_work", _die)  # forked workers inherit the patched module
    with Linter(jobs=2, use_cache=False) as linter:
        with pytest.raises(BrokenProcessPool):
            linter.results(S, lines(2000, salt=" z"))


def test_cache_is_cold_until_a_run_has_stored_lines(tmp_path, monkeypatch):
    from tunelint.linter.cachedir import cache_is_cold

    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_is_cold()  # no cache yet
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(lines(5)) + "\n")
    lint(p)
    assert not cache_is_cold()
    (tmp_path / "cache" / "lines.sqlite3").write_bytes(b"damaged")
    for suffix in ("-wal", "-shm"):
        (tmp_path / "cache" / f"lines.sqlite3{suffix}").unlink(missing_ok=True)
    assert cache_is_cold()  # a damaged file is replaced: every line will be analysed


def _warm(tmp_path, monkeypatch, n: int, salt: str, every: int | None = None):
    """A file linted once with two workers, its lines in the cache (`_faulty_file`)."""
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    p, data = _faulty_file(tmp_path, n, salt, every)
    with Linter(jobs=2) as two:
        two.lint_paths([str(p)], lambda _: S)
    return p, data


def _edited_copy(data: list[str], every: int) -> list[str]:
    out = list(data)
    for i in range(3, len(out), every):  # 1 in `every` lines changed: some break, some get fixed
        out[i] = out[i].replace('"bot"', '"assistant"') if '"bot"' in out[i] else out[i].replace('"user"', '"human"')
    return out


def _same_report(a, b) -> None:
    assert a.findings == b.findings
    assert (a.stats.lines, a.stats.examples, a.stats.formats) == (b.stats.lines, b.stats.examples, b.stats.formats)
    for name in ("tokens", "trainable", "messages"):  # the same values; their order is not kept
        assert sorted(getattr(a.stats, name)) == sorted(getattr(b.stats, name)), name
    assert list(a.line_hashes) == list(b.line_hashes)


def _side_starts(monkeypatch) -> list[int]:
    from tunelint.linter import engine

    started: list[int] = []
    real = engine._Workers.start

    def start(self, settings, texts, prompts=True):
        if not self.share:
            started.append(len(texts))
        return real(self, settings, texts, prompts)

    monkeypatch.setattr(engine._Workers, "start", start)
    return started


def test_a_warm_run_sends_its_few_misses_to_the_side_worker_and_reports_the_same(tmp_path, monkeypatch):
    """With a warm cache, each batch's misses go to one worker of their own while this process
    reads on; the lines waiting for them are taken later, out of order. The report is the one a
    run without the cache gives."""
    p, data = _warm(tmp_path, monkeypatch, 3000, " side", 41)
    p.write_text("\n".join(_edited_copy(data, 100)) + "\n")
    started = _side_starts(monkeypatch)
    with Linter(jobs=2, line_hashes=True) as two:
        warm = two.lint_paths([str(p)], lambda _: S)[0]
    with Linter(jobs=1, use_cache=False) as one:
        fresh = one.lint_paths([str(p)], lambda _: S)[0]
    assert sum(started) == warm.stats.analysed == 30 and len(started) == 3  # one start per batch
    assert warm.stats.cached == 2970
    _same_report(warm, fresh)
    assert {f.code for f in warm.findings} == {"TL104"}


def test_lines_waiting_for_the_side_worker_are_bounded(tmp_path, monkeypatch):
    from tunelint.linter import engine

    monkeypatch.setattr(engine, "LATER_MAX", 2)  # taken as soon as more than 2 lines wait
    p, data = _warm(tmp_path, monkeypatch, 2500, " bound")
    p.write_text("\n".join(_edited_copy(data, 50)) + "\n")
    with Linter(jobs=2) as two:
        warm = two.lint_paths([str(p)], lambda _: S)[0]
    with Linter(jobs=1, use_cache=False) as one:
        _same_report(warm, one.lint_paths([str(p)], lambda _: S)[0])
    assert warm.stats.analysed == 50 and len(warm.findings) == 50


def test_a_side_worker_that_dies_is_an_error_not_a_hang(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import pytest

    from tunelint.linter import engine

    p, data = _warm(tmp_path, monkeypatch, 1500, " dies")
    p.write_text("\n".join(_edited_copy(data, 100)) + "\n")
    monkeypatch.setattr(engine, "_work", _die)
    with Linter(jobs=2) as two, pytest.raises(BrokenProcessPool):
        two.lint_paths([str(p)], lambda _: S)


def test_a_result_comes_back_from_its_bytes_with_every_field():
    from dataclasses import fields

    import pytest

    from tunelint.linter.findings import Severity
    from tunelint.linter.results import LineFinding, LineResult, Signature, dump_result, load_result

    sig = Signature(2**64 - 1, 7, 0, b"\x01\x02" * 4, None, 9)
    plain = LineResult("chat", (), 660, 164, 5, True, "de", sig)
    # every field set apart from its default, so that a field out of place shows
    assert all(getattr(plain, f.name) != f.default for f in fields(LineResult) if f.name != "findings")
    assert all(getattr(sig, f.name) != f.default for f in fields(Signature) if f.name != "prompt_sig")
    found = LineResult(None, (LineFinding("TL101", Severity.ERROR, 3, 9, "bad — naïve"),), is_example=True)
    for r in (plain, LineResult("text", ()), LineResult("chat", (), dedupe=Signature(1, 2, 3, b"", b"p")), found):
        data = dump_result(r)
        assert load_result(data) == r
        assert (data[:1] == b"\x00") == (not r.findings)  # marshal's form without findings, else a pickle
    for junk in (b"\x00\xff", b"\x00", b"not a result"):
        with pytest.raises(Exception):  # noqa: B017 - the cache takes any error for a miss
            load_result(junk)
