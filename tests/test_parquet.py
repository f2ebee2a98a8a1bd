"""Parquet input: a row is checked as the JSONL line holding the same object; its findings name
the row and the JSON path of the value, in every output format."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'tunelint[parquet]')")
pq = pytest.importorskip("pyarrow.parquet")

ROWS = [
    {"messages": [{"role": "user", "content": "What is the capital of France, and why is it that city?"},
                  {"role": "assistant", "content": "Paris: it has been the seat of government for centuries."}]},
    {"messages": [{"role": "usr", "content": "hi"}, {"role": "assistant", "content": ""}]},
    {"messages": [{"role": "user", "content": "What is the capital of France, and why is it that city?"},
                  {"role": "assistant", "content": "Paris: it has been the seat of government for centuries."}]},
    {"messages": [{"role": "user", "content": "no answer here"}]},
]


def _write(tmp_path, rows, name="data.parquet", **kw):
    path = tmp_path / name
    pq.write_table(pa.Table.from_pylist(rows), path, **kw)
    return path


def _json(tmp_path, *paths):
    p = run_cli("check", *map(str, paths), "--format", "json", "--no-cache", cwd=tmp_path)
    return p.returncode, json.loads(p.stdout)


def test_rows_have_the_findings_of_the_same_jsonl_lines(tmp_path):
    pq_path = _write(tmp_path, ROWS, row_group_size=2)  # two row groups: rows are numbered across them
    (tmp_path / "jsonl").mkdir()
    (tmp_path / "jsonl" / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    rc_p, out_p = _json(tmp_path, pq_path.name)
    rc_j, out_j = _json(tmp_path, "jsonl/data.jsonl")
    assert rc_p == rc_j == 1
    got = [(f["line"], f["code"], f["message"]) for f in out_p["findings"]]
    want = [(f["line"], f["code"], f["message"].replace("jsonl/data.jsonl", "data.parquet"))
            for f in out_j["findings"]]
    assert sorted(got) == sorted(want)
    assert out_p["stats"]["data.parquet"]["examples"] == 4


def test_a_finding_names_the_row_and_the_json_path(tmp_path):
    _write(tmp_path, ROWS)
    _, out = _json(tmp_path, "data.parquet")
    by = {(f["line"], f["code"]): f for f in out["findings"]}
    role = by[(2, "TL104")]
    assert role["json_path"] == "$.messages[0].role"
    assert role["column"] is None and role["end_column"] is None and role["fix"] is None
    assert by[(2, "TL205")]["json_path"] == "$.messages[1].content"
    dup = by[(3, "TL901")]
    assert dup["json_path"] == "$"
    assert dup["related"] == [{"path": "data.parquet", "line": 1, "column": None, "message": "first occurrence",
                               "json_path": "$"}]


def test_text_github_and_sarif_say_row_and_path(tmp_path):
    _write(tmp_path, ROWS)
    text = run_cli("check", "data.parquet", "--no-cache", "--no-stats", cwd=tmp_path).stdout
    assert "data.parquet:2:$.messages[0].role: TL104" in text
    assert "    data.parquet:1:$: first occurrence" in text
    gh = run_cli("check", "data.parquet", "--no-cache", "--format", "github", cwd=tmp_path).stdout
    line = next(x for x in gh.splitlines() if "TL104" in x)
    assert "file=data.parquet,line=2,endLine=2::" in line and "col=" not in line
    assert "::TL104 $.messages[0].role: unknown role" in line
    sarif = json.loads(run_cli("check", "data.parquet", "--no-cache", "--format", "sarif", cwd=tmp_path).stdout)
    res = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "TL104")
    loc = res["locations"][0]
    assert loc["physicalLocation"]["region"] == {"startLine": 2}
    assert loc["logicalLocations"] == [{"fullyQualifiedName": "$.messages[0].role", "kind": "member"}]


def test_null_struct_fields_are_missing_keys_and_other_formats_read(tmp_path):
    # Parquet gives every message every field: `name` is null where a row had none
    rows = [{"messages": [{"role": "user", "content": "Say hello to the people reading this please", "name": None},
                          {"role": "assistant", "content": "Hello, everyone reading this!", "name": "bot"}]}] * 1
    _write(tmp_path, rows, "chat.parquet")
    _write(tmp_path, [{"prompt": "Write a haiku about rain", "completion": "Soft rain on the roof"}],
           "pc.parquet")
    _, out = _json(tmp_path, "chat.parquet", "pc.parquet")
    # a null `name` read as a key would be TL1xx (name must be a string); only the dataset's size is said
    assert [f["code"] for f in out["findings"] if f["path"] == "chat.parquet"] == ["TL801"], out["findings"]
    assert out["stats"]["pc.parquet"]["formats"] == {"prompt_completion": 1}


def test_a_parquet_file_without_usable_columns_or_damaged_is_a_clear_finding(tmp_path):
    _write(tmp_path, [{"id": 1, "body": "x"}], "cols.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 50)
    good = _write(tmp_path, ROWS, "cut.parquet")
    data = good.read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])  # cut: no footer
    rc, out = _json(tmp_path, "cols.parquet", "broken.parquet", "cut.parquet")
    assert rc == 1
    by = {f["path"]: f for f in out["findings"]}
    assert by["cols.parquet"]["code"] == "TL002"
    assert "no column tunelint can check" in by["cols.parquet"]["message"]
    assert "id, body" in by["cols.parquet"]["message"] and "`messages`" in by["cols.parquet"]["message"]
    for name in ("broken.parquet", "cut.parquet"):
        assert by[name]["code"] == "TL002" and "not a readable Parquet file" in by[name]["message"]


def test_a_directory_check_finds_parquet_files(tmp_path):
    _write(tmp_path, ROWS, "train.parquet")
    p = run_cli("check", ".", "--no-cache", "--format", "json", cwd=tmp_path)
    assert {f["path"] for f in json.loads(p.stdout)["findings"]} == {"train.parquet"}


def test_fix_leaves_a_parquet_file_alone(tmp_path):
    path = _write(tmp_path, ROWS)
    before = path.read_bytes()
    run_cli("check", "data.parquet", "--fix", "--no-cache", cwd=tmp_path)
    assert path.read_bytes() == before
