"""Writes go where they should and nowhere else (issue 22): the one atomic writer, `--fix` on
symlinks, hard links, read-only files and files saved while they are linted, baselines through
planted links, the default baseline both written and read, and `-` for standard input. Each
through a real `python -m tunelint` process on real file system objects."""

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from tunelint.linter.atomic import WriteRefused, write_atomically
from tunelint.trainer.contract import new_run_dir

EX1 = {"messages": [{"role": "user", "content": "How do I pair a lamp?"},
                    {"role": "assistant", "content": "Hold its button for five seconds."}]}
EX2 = {"messages": [{"role": "user", "content": "Can I dim it?"},
                    {"role": "assistant", "content": "Yes, with the slider."}]}
EX3 = {"messages": [{"role": "user", "content": "Is there a hub?"},
                    {"role": "assistant", "content": "No, it pairs directly."}]}
# a blank line 2: TL007, whose safe fix deletes the line
FIXABLE = json.dumps(EX1) + "\n\n" + json.dumps(EX2) + "\n"
FIXED = json.dumps(EX1) + "\n" + json.dumps(EX2) + "\n"


def tunelint(cwd, *args, stdin=None, pre=""):
    """`python -m tunelint ARGS` in `cwd`; `pre`: Python run in that process first (a hook)."""
    code = f"{pre}\nimport sys\nfrom tunelint.cli import main\nsys.argv = ['tunelint', *{list(args)!r}]\nmain()"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NO_COLOR": "1"})


def check(cwd, *args, **kw):
    return tunelint(cwd, "check", "--profile", "hf", "--no-cache", "--no-stats", *args, **kw)


# -- the atomic writer ---------------------------------------------------------------------------

def test_a_planted_temporary_name_is_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's file\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "data.jsonl").write_text(FIXABLE)
    (ws / "tunelint-baseline.json.tmp").symlink_to(victim)
    r = check(ws, "--write-baseline", "tunelint-baseline.json", "data.jsonl")
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "the user's file\n"
    assert json.loads((ws / "tunelint-baseline.json").read_text())["findings"][0]["code"] == "TL007"
    assert sorted(p.name for p in ws.iterdir()) == ["data.jsonl", "tunelint-baseline.json",
                                                    "tunelint-baseline.json.tmp"]


def test_a_baseline_symlink_that_leads_out_is_refused_and_one_inside_is_written_through(tmp_path):
    victim = tmp_path / "victim.json"
    victim.write_text("{}\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "data.jsonl").write_text(FIXABLE)
    (ws / "tunelint-baseline.json").symlink_to(victim)
    r = check(ws, "--write-baseline", "tunelint-baseline.json", "data.jsonl")
    assert r.returncode == 2
    assert "leads to" in r.stderr and str(victim) in r.stderr and "not written" in r.stderr
    assert victim.read_text() == "{}\n" and (ws / "tunelint-baseline.json").is_symlink()
    (ws / "tunelint-baseline.json").unlink()
    (ws / "baselines").mkdir()
    (ws / "tunelint-baseline.json").symlink_to("baselines/real.json")
    r = check(ws, "--write-baseline", "tunelint-baseline.json", "data.jsonl")
    assert r.returncode == 0, r.stderr
    assert (ws / "tunelint-baseline.json").is_symlink()  # still a link, its target written
    assert json.loads((ws / "baselines" / "real.json").read_text())["findings"][0]["code"] == "TL007"


def test_a_read_only_baseline_is_not_replaced(tmp_path):
    (tmp_path / "data.jsonl").write_text(FIXABLE)
    base = tmp_path / "b.json"
    base.write_text("keep\n")
    base.chmod(0o444)
    r = check(tmp_path, "--write-baseline", "b.json", "data.jsonl")
    assert r.returncode == 2 and "read-only" in r.stderr
    assert base.read_text() == "keep\n"


def test_the_writer_refuses_outside_its_root_and_keeps_mode(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "out.txt").write_text("x")
    (root / "link").symlink_to(tmp_path / "out.txt")
    with pytest.raises(WriteRefused, match="outside"):
        write_atomically(root / "link", "y", inside=root)
    with pytest.raises(WriteRefused, match="outside"):
        write_atomically(tmp_path / "elsewhere.txt", "y", inside=root)
    assert (tmp_path / "out.txt").read_text() == "x" and not (tmp_path / "elsewhere.txt").exists()
    f = root / "f.txt"
    f.write_text("a")
    f.chmod(0o640)
    write_atomically(f, "b", inside=root)
    assert f.read_text() == "b" and stat.S_IMODE(f.stat().st_mode) == 0o640
    assert [p.name for p in root.iterdir() if p.name.startswith(".tunelint-")] == []


# -- --fix ---------------------------------------------------------------------------------------

def test_fix_writes_through_a_symlink_inside_the_checked_tree(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "train.jsonl"
    target.write_text(FIXABLE)
    (tmp_path / "train.jsonl").symlink_to("real/train.jsonl")
    r = check(tmp_path, "--fix", ".")
    assert (tmp_path / "train.jsonl").is_symlink(), r.stderr
    assert target.read_text() == FIXED


def test_fix_refuses_a_symlink_that_leads_out_of_the_checked_tree(tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_text(FIXABLE)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").symlink_to(outside)
    r = check(tmp_path, "--fix", "data")
    assert "not fixing" in r.stderr and str(outside) in r.stderr
    assert (tmp_path / "data" / "train.jsonl").is_symlink() and outside.read_text() == FIXABLE


def test_fix_refuses_read_only_and_hard_linked_files(tmp_path):
    ro = tmp_path / "ro.jsonl"
    ro.write_text(FIXABLE)
    ro.chmod(0o444)
    linked = tmp_path / "linked.jsonl"
    linked.write_text(FIXABLE)
    os.link(linked, tmp_path / "other-name.jsonl")
    r = check(tmp_path, "--fix", "ro.jsonl", "linked.jsonl")
    assert "ro.jsonl is read-only" in r.stderr
    assert "linked.jsonl has 2 hard links" in r.stderr
    assert ro.read_text() == FIXABLE and stat.S_IMODE(ro.stat().st_mode) == 0o444
    assert linked.read_text() == FIXABLE and (tmp_path / "other-name.jsonl").read_text() == FIXABLE
    assert os.stat(linked).st_ino == os.stat(tmp_path / "other-name.jsonl").st_ino


def test_fix_keeps_mode_and_owner(tmp_path):
    f = tmp_path / "train.jsonl"
    f.write_text(FIXABLE)
    f.chmod(0o640)
    owner = None
    if os.geteuid() == 0:
        owner = (65534, 65534)
        os.chown(f, *owner)
    r = check(tmp_path, "--fix", "train.jsonl")
    assert f.read_text() == FIXED, r.stderr
    st = f.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    if owner is not None:
        assert (st.st_uid, st.st_gid) == owner


# the editor saves the file after tunelint read it: line 2 is now a real example, no blank line
SAVE_AFTER_FIRST_LINT = textwrap.dedent("""
    import tunelint.linter.engine as engine
    _lint_paths, _calls = engine.Linter.lint_paths, []
    def lint_paths(self, paths, *a, **kw):
        reports = _lint_paths(self, paths, *a, **kw)
        _calls.append(1)
        if len(_calls) == 1:
            with open(paths[0], "w") as f:
                f.write(SAVED)
        return reports
    engine.Linter.lint_paths = lint_paths
""")


def test_fix_never_applies_fixes_to_a_file_saved_since_it_was_linted(tmp_path):
    saved = json.dumps(EX1) + "\n" + json.dumps(EX3) + "\n" + json.dumps(EX2) + "\n"
    f = tmp_path / "train.jsonl"
    f.write_text(FIXABLE)
    r = check(tmp_path, "--fix", "train.jsonl", pre=f"SAVED = {saved!r}\n" + SAVE_AFTER_FIRST_LINT)
    assert f.read_text() == saved, r.stderr  # the example on line 2 is still there
    assert "Fixed" not in r.stderr


def test_fix_gives_up_on_a_file_that_keeps_changing(tmp_path):
    hook = textwrap.dedent("""
        import tunelint.linter.engine as engine
        _lint_paths, _n = engine.Linter.lint_paths, [0]
        def lint_paths(self, paths, *a, **kw):
            reports = _lint_paths(self, paths, *a, **kw)
            _n[0] += 1
            with open(paths[0], "a") as f:
                f.write("\\n" + '{"messages": [{"role": "user", "content": "q%d"}, '
                        '{"role": "assistant", "content": "a"}]}' % _n[0] + "\\n")
            return reports
        engine.Linter.lint_paths = lint_paths
    """)
    f = tmp_path / "train.jsonl"
    f.write_text(FIXABLE)
    r = check(tmp_path, "--fix", "train.jsonl", pre=hook)
    assert "changed while it was checked" in r.stderr
    assert "Fixed" not in r.stderr
    assert f.read_text().startswith(FIXABLE)


# -- the default baseline ------------------------------------------------------------------------

def test_the_default_baseline_at_the_project_root_is_read(tmp_path):
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\n')
    (tmp_path / "data.jsonl").write_text(FIXABLE)
    r = check(tmp_path, "--write-baseline", "tunelint-baseline.json", "data.jsonl")
    assert r.returncode == 0, r.stderr
    r = check(tmp_path, "--format", "json", "data.jsonl")
    out = json.loads(r.stdout)
    assert out["findings"] == [] and out["summary"]["baseline_hidden"] == 1


# -- standard input ------------------------------------------------------------------------------

def test_dash_reads_standard_input(tmp_path):
    r = check(tmp_path, "-", stdin=FIXABLE)
    assert r.returncode == 0, r.stderr
    assert "-:2:1: TL007" in r.stdout
    r = check(tmp_path, "--stdin-filename", "data/train.jsonl", "-", stdin=FIXABLE)
    assert "data/train.jsonl:2:1: TL007" in r.stdout
    r = check(tmp_path, "--diff", "-", stdin=FIXABLE)
    assert r.returncode == 0 and "\n-\n" in r.stdout
    r = check(tmp_path, "--format", "json", "-", stdin="not json\n")
    assert r.returncode == 1 and json.loads(r.stdout)["findings"][0]["path"] == "-"


def test_dash_with_fix_or_other_paths_is_a_usage_error(tmp_path):
    (tmp_path / "a.jsonl").write_text(FIXED)
    r = check(tmp_path, "--fix", "-", stdin=FIXABLE)
    assert r.returncode == 2 and "--fix cannot rewrite standard input" in r.stderr
    r = check(tmp_path, "-", "a.jsonl", stdin=FIXABLE)
    assert r.returncode == 2 and "checked alone" in r.stderr


# -- run folders ---------------------------------------------------------------------------------

def test_a_dot_tunelint_symlink_never_puts_runs_outside_the_workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (ws / ".tunelint").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="outside the workspace"):
        new_run_dir(ws, "train")
    (ws / ".tunelint").unlink()
    (ws / "store").mkdir()
    (ws / ".tunelint").symlink_to("store")  # inside: allowed
    assert str(new_run_dir(ws, "train")).startswith(str(ws / ".tunelint" / "runs"))


def test_a_baseline_that_cannot_be_written_is_a_clear_error(tmp_path):
    (tmp_path / "data.jsonl").write_text(FIXABLE)
    r = check(tmp_path, "--write-baseline", "missing/b.json", "data.jsonl")
    assert r.returncode == 2
    assert "missing/b.json: cannot write the baseline (No such file or directory)" in r.stderr
    assert "internal error" not in r.stderr


def test_a_run_folder_name_planted_as_a_dangling_link_is_skipped(tmp_path, monkeypatch):
    import tunelint.trainer.contract as contract

    ws = tmp_path / "ws"
    (ws / ".tunelint" / "runs").mkdir(parents=True)
    stamp = "20260101-120000"
    monkeypatch.setattr(contract, "stamp", lambda: stamp)
    for name in (stamp, f"{stamp}-2"):
        (ws / ".tunelint" / "runs" / name).symlink_to(tmp_path / "nowhere" / name)
    path = new_run_dir(ws, "train")
    assert path.name == f"{stamp}-3" and not path.is_symlink()
