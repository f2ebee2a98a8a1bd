"""Duplicates, near duplicates, conflicting answers and split leakage (TL9xx)."""

import json
import random

import pytest
from click.testing import CliRunner

from tunelint.cli import main
from tunelint.linter.dedupe import DuplicateIndex
from tunelint.linter.engine import Linter
from tunelint.linter.settings import Settings

S = Settings(profile="hf", tokenizer=None)
WORDS = ("lamp light brightness colour warm cool schedule sunrise router network pair reset button app "
         "account member group timer night mode firmware update voice assistant energy room guest").split()


def sentence(rnd: random.Random, n: int = 40) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(n)) + "."


def chat(q: str, a: str, system: str | None = None) -> str:
    msgs = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return json.dumps({"messages": msgs})


def lint(tmp_path, files: dict[str, list[str]], split_of=None):
    paths = []
    for name, lines in files.items():
        p = tmp_path / name
        p.write_text("\n".join(lines) + "\n")
        paths.append(str(p))
    with Linter(use_cache=False, jobs=1) as linter:
        reports = linter.lint_paths(paths, lambda _: S, split_of)
    return {r.path.rsplit("/", 1)[-1]: [f for f in r.findings if f.code.startswith("TL9")] for r in reports}


def codes(found):
    return [(f.line, f.code) for f in found]


def test_exact_duplicate_is_reported_on_the_later_line_pointing_at_the_first(tmp_path):
    rnd = random.Random(1)
    a, b = chat(sentence(rnd), sentence(rnd)), chat(sentence(rnd), sentence(rnd))
    found = lint(tmp_path, {"train.jsonl": [a, b, a]})["train.jsonl"]
    assert codes(found) == [(3, "TL901")]
    assert found[0].related[0].line == 1 and found[0].related[0].path.endswith("train.jsonl")
    assert "train.jsonl:1" in found[0].message


def test_normalisation_ignores_case_whitespace_and_system_prompts(tmp_path):
    found = lint(tmp_path, {"train.jsonl": [
        chat("How do I reset it?", "Hold the button.", system="You are terse."),
        chat("how do I   reset it?", "Hold the button.", system="You are verbose."),
    ]})["train.jsonl"]
    assert codes(found) == [(2, "TL901")]


def test_duplicates_across_files_of_the_same_split(tmp_path):
    rnd = random.Random(2)
    a = chat(sentence(rnd), sentence(rnd))
    found = lint(tmp_path, {"train_a.jsonl": [a], "train_b.jsonl": [a]})
    assert codes(found["train_b.jsonl"]) == [(1, "TL901")] and found["train_a.jsonl"] == []


def test_near_duplicate_reports_the_estimated_similarity(tmp_path):
    rnd = random.Random(3)
    q, ans = sentence(rnd, 60), sentence(rnd, 120)
    words = ans.split()
    words[50] = "changed"
    found = lint(tmp_path, {"train.jsonl": [chat(q, ans), chat(sentence(rnd), sentence(rnd)),
                                            chat(q, " ".join(words))]})
    f = found["train.jsonl"]
    assert codes(f) == [(3, "TL902")]
    assert "estimated similarity 0.9" in f[0].message and f[0].related[0].line == 1


def test_different_examples_are_not_duplicates(tmp_path):
    rnd = random.Random(4)
    lines = [chat(sentence(rnd), sentence(rnd, 80)) for _ in range(200)]
    assert lint(tmp_path, {"train.jsonl": lines})["train.jsonl"] == []


def test_conflicting_answers(tmp_path):
    found = lint(tmp_path, {"train.jsonl": [chat("What is 2+2?", "4"), chat("what is  2+2?", "5"),
                                            chat("What is 2+2?", "4")]})["train.jsonl"]
    assert (2, "TL903") in codes(found) and (3, "TL901") in codes(found)


def test_validation_line_repeating_train_line_is_leak(tmp_path):
    rnd = random.Random(5)
    train = [chat(sentence(rnd), sentence(rnd)) for _ in range(5)]
    found = lint(tmp_path, {"train.jsonl": train, "validation.jsonl": [chat(sentence(rnd), sentence(rnd)), train[3]]})
    assert found["train.jsonl"] == []
    f = found["validation.jsonl"]
    assert codes(f) == [(2, "TL904")]
    assert f[0].severity.value == "error"
    assert f[0].related[0].path.endswith("train.jsonl") and f[0].related[0].line == 4


def test_near_leak_and_prompt_only_leak(tmp_path):
    rnd = random.Random(6)
    q1, a1 = sentence(rnd, 60), sentence(rnd, 120)
    q2 = sentence(rnd, 60)
    near = a1.split()
    near[10] = "different"
    found = lint(tmp_path, {"train.jsonl": [chat(q1, a1), chat(q2, sentence(rnd))],
                            "test.jsonl": [chat(q1, " ".join(near)), chat(q2, "a completely different answer")]})
    f = {line: (code, msg) for line, code, msg in ((x.line, x.code, x.message) for x in found["test.jsonl"])}
    assert f[1][0] == "TL904" and "nearly repeats" in f[1][1]
    assert f[2][0] == "TL905" and "prompt repeats" in f[2][1]


def test_test_repeating_validation_is_leak(tmp_path):
    rnd = random.Random(7)
    v = chat(sentence(rnd), sentence(rnd))
    found = lint(tmp_path, {"val.jsonl": [v], "test.jsonl": [v]})
    assert codes(found["test.jsonl"]) == [(1, "TL904")] and found["val.jsonl"] == []


def test_splits_from_config_globs_via_the_cli(tmp_path):
    rnd = random.Random(8)
    a = chat(sentence(rnd), sentence(rnd))
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\ntokenizer = false\n'
                                            '[splits]\ntrain = ["a.jsonl"]\nvalidation = ["b.jsonl"]\n')
    (tmp_path / "a.jsonl").write_text(a + "\n")
    (tmp_path / "b.jsonl").write_text(a + "\n")
    r = CliRunner().invoke(main, ["check", "--no-stats", "--format", "json", str(tmp_path)])
    found = [(f["path"].rsplit("/", 1)[-1], f["code"]) for f in json.loads(r.output)["findings"]]
    assert found == [("b.jsonl", "TL904")]
    assert r.exit_code == 1


def test_duplicate_rules_can_be_ignored_and_thresholded(tmp_path):
    rnd = random.Random(9)
    a = chat(sentence(rnd), sentence(rnd))
    p = tmp_path / "train.jsonl"
    p.write_text(a + "\n" + a + "\n")
    with Linter(use_cache=False, jobs=1) as linter:
        r = linter.lint_paths([str(p)], lambda _: Settings(profile="hf", tokenizer=None, ignore=("TL9",)))[0]
    assert not [f for f in r.findings if f.code.startswith("TL9")]
    with pytest.raises(ValueError):
        Settings(duplicate_threshold=1.5)


def _sig_for(linter, text):
    return linter.analyzer(S).analyze(text).dedupe


def test_incremental_index_equals_index_built_from_scratch():
    rnd = random.Random(10)
    base = [chat(sentence(rnd, 30), sentence(rnd, 60)) for _ in range(12)]
    variants = base + [b.replace("lamp", "lamps", 1) for b in base[:6]] + base[:3]
    linter = Linter(use_cache=False, jobs=1)
    sigs = {t: _sig_for(linter, t) for t in set(variants)}
    splits = {"train.jsonl": "train", "val.jsonl": "validation"}
    for trial in range(20):
        live = DuplicateIndex(splits, 0.8, list(splits))
        state: dict[tuple, str] = {}
        for _ in range(60):
            key = (rnd.choice(list(splits)), rnd.randint(1, 8))
            if rnd.random() < 0.3 and key in state:
                live.remove(*key)
                del state[key]
            else:
                text = rnd.choice(variants)
                live.put(*key, sigs[text])
                state[key] = text
            if rnd.random() < 0.2:
                live.findings()  # the language server asks between edits: near pairs update line by line
        fresh = DuplicateIndex(splits, 0.8, list(splits))
        for key, text in sorted(state.items()):
            fresh.put(*key, sigs[text])
        assert live.findings() == fresh.findings(), trial


def test_same_question_about_different_images_is_not_a_duplicate(tmp_path):
    def ask(url, answer):
        return json.dumps({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "What does the blue line represent?"},
                                         {"type": "image_url", "image_url": {"url": url}}]},
            {"role": "assistant", "content": answer}]})
    found = lint(tmp_path, {"train.jsonl": [ask("https://example.com/a.png", "Sales")],
                            "validation.jsonl": [ask("https://example.com/b.png", "Costs"),
                                                 ask("https://example.com/a.png", "Sales")]})
    assert codes(found["validation.jsonl"]) == [(2, "TL904")]


def test_near_prompts_about_different_images_are_not_leaks(tmp_path):
    def ask(url, answer):
        return json.dumps({"messages": [
            {"role": "user", "content": [{"type": "text",
                                          "text": "When does the good rating reach the peak?\nShort answer."},
                                         {"type": "image_url", "image_url": {"url": url}}]},
            {"role": "assistant", "content": answer}]})
    found = lint(tmp_path, {"train.jsonl": [ask("https://example.com/66.png", "2013")],
                            "validation.jsonl": [ask("https://example.com/68.png", "2014")]})
    assert found["validation.jsonl"] == []


def test_prompt_index_is_built_when_a_second_split_arrives():
    """Near prompts only matter across splits, so the prompt index waits for a second split;
    when one arrives, earlier lines' prompts are indexed too."""
    rnd = random.Random(11)
    q, a = sentence(rnd, 40), sentence(rnd, 60)
    near_q = q.split()
    near_q[5] = "different"
    linter = Linter(use_cache=False, jobs=1)
    index = DuplicateIndex({"train.jsonl": "train", "val.jsonl": "validation"}, 0.8)
    index.put("train.jsonl", 1, _sig_for(linter, chat(q, a)))
    index.put("train.jsonl", 2, _sig_for(linter, chat(" ".join(near_q), sentence(rnd, 60))))
    assert index.findings() == [] and len(index.near_prompt) == 0  # one split: no prompt index
    index.put("val.jsonl", 1, _sig_for(linter, chat(" ".join(near_q), sentence(rnd, 60))))
    found = [(f.path, f.line, f.code) for f in index.findings()]
    assert ("val.jsonl", 1, "TL905") in found and len(index.near_prompt) == 3


def test_prompt_signatures_are_kept_only_when_two_ranked_splits_are_linted(tmp_path):
    """A run whose files span fewer than two of train/validation/test never asks for near
    prompts, so its index keeps no prompt signatures; with two splits, near prompt leaks are
    still found."""
    from tunelint.linter.engine import default_indexes

    rnd = random.Random(12)
    q, a = sentence(rnd, 40), sentence(rnd, 60)
    near_q = q.split()
    near_q[5] = "different"
    one = default_indexes({"train.jsonl": S}, {"train.jsonl": "train"}, ["train.jsonl"])[-1]
    two = default_indexes({"train.jsonl": S, "val.jsonl": S}, {"train.jsonl": "train", "val.jsonl": "validation"},
                          ["train.jsonl", "val.jsonl"])[-1]
    linter = Linter(use_cache=False, jobs=1)
    sig = _sig_for(linter, chat(q, a))
    assert sig.prompt_sig
    one.put("train.jsonl", 1, sig)
    two.put("train.jsonl", 1, sig)
    assert one.entries["train.jsonl", 1].sig.prompt_sig == b"" and two.entries["train.jsonl", 1].sig == sig
    two.put("val.jsonl", 1, _sig_for(linter, chat(" ".join(near_q), sentence(rnd, 60))))
    assert ("val.jsonl", 1, "TL905") in [(f.path, f.line, f.code) for f in two.findings()]
    found = lint(tmp_path, {"train.jsonl": [chat(q, a), chat(" ".join(near_q), sentence(rnd, 60))]})
    assert "TL905" not in [f.code for f in found["train.jsonl"]]


def test_a_run_that_compares_no_prompts_makes_no_prompt_signatures_and_a_later_one_does(tmp_path, monkeypatch):
    """One split: the prompts' MinHash is not made (`prompt_sig` None) and the cache keeps the
    results so; a later run over two splits cannot use them and analyses those lines again,
    and finds the near prompt leak; the whole conversations' signatures are the same either way."""
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    rnd = random.Random(12)
    q, a = sentence(rnd, 40), sentence(rnd, 60)
    near_q = q.split()
    near_q[5] = "different"
    train, val = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    train.write_text(chat(q, a) + "\n")
    val.write_text(chat(" ".join(near_q), sentence(rnd, 60)) + "\n")
    with Linter(jobs=1) as linter:
        alone = linter.lint_paths([str(train)], lambda p: S)[0]
        assert alone.stats.analysed == 1
        sig = linter.analyzer(S).analyze_many([chat(q, a)], prompts=False)[0].dedupe
        assert sig.prompt_sig is None and sig.whole_sig == _sig_for(linter, chat(q, a)).whole_sig
    with Linter(jobs=1) as linter:
        again = linter.lint_paths([str(train)], lambda p: S)[0]
        assert (again.stats.analysed, again.stats.cached) == (0, 1)  # one split: the cache answers
        both = linter.lint_paths([str(train), str(val)], lambda p: S)
        assert both[0].stats.analysed == 1  # made again, with the prompt's MinHash
        assert ("TL905" in {f.code for r in both for f in r.findings})
        twice = linter.lint_paths([str(train), str(val)], lambda p: S)
        assert twice[0].stats.cached == 1


def test_signer_keys_and_prompt_signatures_match_their_definitions():
    """Keys are equal exactly when the normalised turns are (whole), the turns before the last
    answer are (prompt), and the last answers are (answer); the prompt's MinHash, taken from the
    whole text's shingles, is that of the prompt's own text."""
    from tunelint.linter.dedupe import Signer, comparable_turns
    from tunelint.linter.minhash import MinHasher, to_16_bits
    from tunelint.linter.textnorm import normalize

    rnd = random.Random(7)
    variants = ["Reset the router", "reset  the ROUTER", " reset the router\n", "Reset the router!",
                sentence(rnd, 30), sentence(rnd, 30), ""]
    examples = []
    for _ in range(300):
        msgs = [{"role": rnd.choice(["user", "assistant", "tool"]), "content": rnd.choice(variants)}
                for _ in range(rnd.randint(0, 5))]
        examples.append(comparable_turns({"messages": msgs}, "chat"))
    sigs = Signer().sign(examples)
    hasher = MinHasher(num_perm=128)

    def parts(turns, last):
        norm = [normalize(t) for t in turns]
        prompt = norm if last < 0 else norm[:last]
        return tuple(norm), tuple(prompt), (norm[last] if last >= 0 else None), "\n".join(prompt)

    seen = {}
    for (turns, last), sig in zip(examples, sigs, strict=True):
        whole, prompt, answer, prompt_text = parts(turns, last)
        for name, value, key in (("whole", whole, sig.whole_key), ("prompt", prompt, sig.prompt_key),
                                 ("answer", answer, sig.answer_key)):
            assert (key == 0) == (not value), (name, value)
            if value:
                assert seen.setdefault((name, key), value) == value  # one key, one value
                assert seen.setdefault((name, value), key) == key  # one value, one key
        if sig.prompt_sig:
            assert sig.prompt_sig == to_16_bits(hasher.signatures([prompt_text]))[0].tobytes()


def test_a_flush_in_parts_finds_what_one_bulk_add_finds(monkeypatch):
    """Many pending signatures go to the LSH indexes FLUSH_CHUNK at a time (the language server's
    memory peak); the near pairs, prompt leaks included, are the same as from one bulk add."""
    import tunelint.linter.dedupe as dedupe

    rnd = random.Random(11)
    base = [chat(sentence(rnd, 30), sentence(rnd, 60)) for _ in range(15)]
    texts = base + [b.replace("lamp", "lamps", 1) for b in base] + [b.replace("the", "a", 2) for b in base[:8]]
    linter = Linter(use_cache=False, jobs=1)
    splits = {"train.jsonl": "train", "val.jsonl": "validation"}

    def found(chunk: int):
        monkeypatch.setattr(dedupe, "FLUSH_CHUNK", chunk)
        index = DuplicateIndex(splits, 0.8, list(splits))
        for n, text in enumerate(texts, 1):
            index.put("train.jsonl" if n % 3 else "val.jsonl", n, _sig_for(linter, text))
        return index.findings()

    whole = found(10_000)
    assert "TL902" in {f.code for f in whole}  # near duplicates are there
    assert found(4) == whole and found(1) == whole
