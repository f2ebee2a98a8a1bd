"""`hf:<folder>` token counts: a local tokenizer.json rendered through its chat template."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("jinja2")

from tests.hf_fixtures import (  # noqa: E402
    CHATML,
    CHATML_GENERATION,
    CHATML_THINK_LAST,
    CHATML_TOOLS,
    INST,
    INST_SYSTEM_IN_LAST_USER,
    build_tokenizer,
    load_tokenizer,
)
from tunelint.linter.hf_tokens import ChatTemplateError, HFTemplateCounter  # noqa: E402
from tunelint.linter.tokens import TokenizerUnavailable, make_counter  # noqa: E402

CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "Two plus two?"},
    {"role": "assistant", "content": "Two plus two equals four.", "weight": 0},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "Sure, here is a short answer: yes."},
]


def chatml_text(messages) -> str:
    """ChatML rendered by hand, independently of any template engine."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def n_tokens(tok, text: str) -> int:
    return len(tok.encode(text, add_special_tokens=False).ids)


def trained_tokens(tok, messages) -> int:
    """Tokens of each trained assistant content plus the <|im_end|> after it."""
    return sum(n_tokens(tok, m["content"]) + 1 for m in messages
               if m["role"] == "assistant" and m.get("weight", 1) != 0)


@pytest.fixture(params=["plain", "generation"])
def chatml(request, tmp_path):
    template = CHATML if request.param == "plain" else CHATML_GENERATION
    return build_tokenizer(tmp_path / request.param, template)


def test_total_is_the_tokens_of_the_rendered_conversation(chatml):
    counter = HFTemplateCounter(chatml)
    tok = load_tokenizer(chatml)
    text = chatml_text(CONVERSATION)
    assert counter.render(CONVERSATION) == text
    t = counter.count_messages(CONVERSATION)
    assert t.total == n_tokens(tok, text) == len(tok.encode(text, add_special_tokens=False).ids)
    assert sum(t.per_message) == t.total
    assert len(t.per_message) == len(CONVERSATION)
    # each message's share is exactly its own ChatML turn here
    assert t.per_message == tuple(n_tokens(tok, chatml_text([m])) for m in CONVERSATION)


def test_trainable_is_assistant_content_and_its_end_token(chatml):
    counter = HFTemplateCounter(chatml)
    tok = load_tokenizer(chatml)
    t = counter.count_messages(CONVERSATION)
    assert t.trainable == trained_tokens(tok, CONVERSATION)
    # the weight-0 answer is not in it
    everything = [dict(m, weight=1) for m in CONVERSATION]
    assert counter.count_messages(everything).trainable == t.trainable + n_tokens(tok, CONVERSATION[4]["content"]) + 1
    # last_assistant_* delimit the last trained turn: its content and <|im_end|>, nothing else
    ids = tok.encode(chatml_text(CONVERSATION), add_special_tokens=False).ids
    last = tok.decode(ids[t.last_assistant_start:t.last_assistant_end], skip_special_tokens=False)
    assert last == CONVERSATION[-1]["content"] + "<|im_end|>"
    assert t.last_assistant_end == t.total - 1  # only the final "\n" follows


def test_last_trained_turn_skips_a_final_weight_zero_turn(chatml):
    counter = HFTemplateCounter(chatml)
    tok = load_tokenizer(chatml)
    msgs = CONVERSATION[:3] + [{"role": "user", "content": "And?"},
                               {"role": "assistant", "content": "Paris.", "weight": 0}]
    t = counter.count_messages(msgs)
    ids = tok.encode(chatml_text(msgs), add_special_tokens=False).ids
    assert tok.decode(ids[t.last_assistant_start:t.last_assistant_end], skip_special_tokens=False) == (
        "The capital of France is Paris.<|im_end|>")
    assert t.trainable == trained_tokens(tok, msgs)


def test_no_trained_turn(chatml):
    counter = HFTemplateCounter(chatml)
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there!", "weight": 0}]
    t = counter.count_messages(msgs)
    assert (t.trainable, t.last_assistant_start, t.last_assistant_end) == (0, -1, -1)
    t = counter.count_messages([{"role": "user", "content": "Hi"}])
    assert (t.trainable, t.last_assistant_start, t.last_assistant_end) == (0, -1, -1)


def test_with_and_without_generation_markers_agree(tmp_path):
    plain = HFTemplateCounter(build_tokenizer(tmp_path / "a", CHATML))
    marked = HFTemplateCounter(build_tokenizer(tmp_path / "b", CHATML_GENERATION))
    for msgs in (CONVERSATION, CONVERSATION[:3], CONVERSATION[1:5],
                 [{"role": "assistant", "content": "Hello there!"}, {"role": "user", "content": "Hi"}]):
        assert plain.count_messages(msgs) == marked.count_messages(msgs)


def test_generation_block_inside_a_filter_falls_back_to_finding_turns(tmp_path):
    # the filter changes the text of the markers the generation blocks are tracked with
    template = (CHATML_GENERATION
                .replace("{% generation %}", "{% filter replace('gen ', '') %}{% generation %}")
                .replace("{% endgeneration %}", "{% endgeneration %}{% endfilter %}"))
    folder = build_tokenizer(tmp_path, template)
    counter, tok = HFTemplateCounter(folder), load_tokenizer(folder)
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "yes"}]
    assert counter.render(msgs) == chatml_text(msgs)
    t = counter.count_messages(msgs)
    assert (t.total, t.trainable) == (n_tokens(tok, chatml_text(msgs)), n_tokens(tok, "yes") + 1)


def test_tool_call_only_turn_is_trained_up_to_its_end_token(tmp_path):
    template = CHATML.replace("message['content']", "(message['content'] if message['content'] is defined "
                              "else message['tool_calls'] | tojson)")
    folder = build_tokenizer(tmp_path, template)
    counter, tok = HFTemplateCounter(folder), load_tokenizer(folder)
    calls = [{"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    msgs = [{"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "content": "sunny"},
            {"role": "assistant", "content": "It is sunny."}]
    text = counter.render(msgs)
    assert json.dumps(calls, ensure_ascii=False) in text  # content=None was dropped, as transformers does
    t = counter.count_messages(msgs)
    assert t.total == n_tokens(tok, text)
    assert t.trainable == n_tokens(tok, json.dumps(calls)) + 1 + n_tokens(tok, "It is sunny.") + 1


def test_prefix_rendered_differently_falls_back_to_finding_the_content(tmp_path):
    # the last turn carries a think block the same turn lacks once the conversation goes on
    folder = build_tokenizer(tmp_path, CHATML_THINK_LAST)
    counter, tok = HFTemplateCounter(folder), load_tokenizer(folder)
    msgs = [dict(m, weight=1) for m in CONVERSATION]
    text = counter.render(msgs)
    assert text.count("<think>") == 1
    t = counter.count_messages(msgs)
    assert t.total == n_tokens(tok, text)
    answers = [m["content"] for m in msgs if m["role"] == "assistant"]
    think = n_tokens(tok, "<think>\n\n</think>\n\n")
    assert t.trainable == sum(n_tokens(tok, a) + 1 for a in answers) + think
    ids = tok.encode(text, add_special_tokens=False).ids
    assert tok.decode(ids[t.last_assistant_start:t.last_assistant_end], skip_special_tokens=False) == (
        "<think>\n\n</think>\n\n" + answers[-1] + "<|im_end|>")
    assert sum(t.per_message) == t.total


def test_system_prompt_moved_to_the_last_user_turn(tmp_path):
    # the prefix before the first answer renders differently, and the answer's text also
    # appears in the user turn before it: the turn is found after the generation prompt's end
    folder = build_tokenizer(tmp_path, INST_SYSTEM_IN_LAST_USER, eos_token="</s>")
    counter, tok = HFTemplateCounter(folder), load_tokenizer(folder)
    msgs = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "capital no quick"}, {"role": "assistant", "content": "capital no"},
            {"role": "user", "content": "Paris"}, {"role": "assistant", "content": "yes"}]
    text = "<s>[INST] capital no quick [/INST] capital no</s>[INST] Be brief.\n\nParis [/INST] yes</s>"
    assert counter.render(msgs) == text
    t = counter.count_messages(msgs)
    assert t.total == n_tokens(tok, text)
    assert t.trainable == n_tokens(tok, " capital no</s>") + n_tokens(tok, " yes</s>")
    ids = tok.encode(text, add_special_tokens=False).ids
    assert tok.decode(ids[t.last_assistant_start:t.last_assistant_end], skip_special_tokens=False) == " yes</s>"
    first_only = [dict(m, weight=0) if m["content"] == "yes" else m for m in msgs]
    t = counter.count_messages(first_only)
    assert tok.decode(ids[t.last_assistant_start:t.last_assistant_end], skip_special_tokens=False) == " capital no</s>"
    assert sum(t.per_message) == t.total


def test_bos_and_eos_come_from_the_config_and_bos_is_not_added_twice(tmp_path):
    folder = build_tokenizer(tmp_path, INST, add_bos=True, eos_token="</s>")
    counter, tok = HFTemplateCounter(folder), load_tokenizer(folder)
    msgs = [{"role": "user", "content": "Two plus two?"}, {"role": "assistant", "content": "Four."},
            {"role": "user", "content": "Thanks!"}, {"role": "assistant", "content": "Sure."}]
    text = "<s>[INST] Two plus two? [/INST] Four.</s>[INST] Thanks! [/INST] Sure.</s>"
    assert counter.render(msgs) == text
    t = counter.count_messages(msgs)
    assert t.total == len(tok.encode(text, add_special_tokens=False).ids)
    assert t.total == len(tok.encode(text).ids) - 1  # the post-processor's extra <s> is not counted
    # the trained part: " Four.</s>" and " Sure.</s>" (the template's space belongs to the answer)
    assert t.trainable == n_tokens(tok, " Four.</s>") + n_tokens(tok, " Sure.</s>")
    assert tok.decode(tok.encode(text, add_special_tokens=False).ids[t.last_assistant_start:t.last_assistant_end],
                      skip_special_tokens=False) == " Sure.</s>"


def test_template_error_is_a_clear_value_error(tmp_path):
    counter = HFTemplateCounter(build_tokenizer(tmp_path, INST, eos_token="</s>"))
    bad = [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hello?"}]
    with pytest.raises(ChatTemplateError, match="roles must alternate") as info:
        counter.count_messages(bad)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ChatTemplateError, match="empty"):
        counter.count_messages([])
    with pytest.raises(ChatTemplateError, match="not an object"):
        counter.count_messages(["hello"])


def test_a_template_crash_on_odd_data_is_a_template_error(tmp_path):
    counter = HFTemplateCounter(build_tokenizer(tmp_path, CHATML))
    with pytest.raises(ChatTemplateError):
        counter.count_messages([{"role": "user", "content": 3}])  # str + int inside the template
    with pytest.raises(ChatTemplateError, match="tools"):
        counter.count_messages([{"role": "user", "content": "Hi"}], tools={"not": "a list"})


def test_analyzer_gives_no_count_instead_of_crashing(tmp_path):
    from tunelint.linter.analyze import Analyzer
    from tunelint.linter.settings import Settings

    folder = build_tokenizer(tmp_path, INST, eos_token="</s>")
    analyzer = Analyzer(Settings(tokenizer=f"hf:{folder}"))
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there!"}]}
    bad = {"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hello?"},
                        {"role": "assistant", "content": "Hello there!"}]}
    r = analyzer.analyze(json.dumps(good))
    assert r.tokens > 0 and r.trainable > 0
    r = analyzer.analyze(json.dumps(bad))
    assert r.format == "chat" and r.tokens == -1


def test_tools_are_passed_to_the_template(tmp_path):
    folder = build_tokenizer(tmp_path, CHATML_TOOLS)
    counter, tok = HFTemplateCounter(folder), load_tokenizer(folder)
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Météo",
                                               "parameters": {"type": "object", "properties": {}}}}]
    msgs = CONVERSATION[1:3]
    text = "<|im_start|>system\n" + json.dumps(tools, ensure_ascii=False) + "<|im_end|>\n" + chatml_text(msgs)
    assert counter.render(msgs, tools) == text
    t = counter.count_messages(msgs, tools)
    assert t.total == n_tokens(tok, text)
    assert t.trainable == trained_tokens(tok, msgs)
    assert counter.count_messages(msgs).total == n_tokens(tok, chatml_text(msgs))


def test_named_templates_pick_tool_use_for_examples_with_tools(tmp_path):
    folder = build_tokenizer(tmp_path, [{"name": "default", "template": CHATML},
                                        {"name": "tool_use", "template": CHATML_TOOLS}])
    counter = HFTemplateCounter(folder)
    msgs = CONVERSATION[1:3]
    assert counter.render(msgs) == chatml_text(msgs)
    assert counter.render(msgs, [{"name": "f"}]).startswith('<|im_start|>system\n[{"name": "f"}]')


def test_chat_template_jinja_file(tmp_path):
    folder = build_tokenizer(tmp_path, CHATML_GENERATION, template_file=True)
    assert "chat_template" not in json.loads((folder / "tokenizer_config.json").read_text())
    counter = HFTemplateCounter(folder)
    assert counter.render(CONVERSATION) == chatml_text(CONVERSATION)


def test_count_of_plain_text(chatml):
    counter, tok = HFTemplateCounter(chatml), load_tokenizer(chatml)
    for text in ("Hello there!", "The quick brown fox", "", "<|im_end|> ünïcödé 🦊"):
        assert counter.count(text) == n_tokens(tok, text)


def test_make_counter_hf(chatml):
    counter = make_counter(f"hf:{chatml}")
    assert isinstance(counter, HFTemplateCounter)
    assert counter.exact_template is True
    assert counter.name == f"hf:{chatml}"
    assert counter.count_messages(CONVERSATION).total == n_tokens(load_tokenizer(chatml), chatml_text(CONVERSATION))


def test_missing_folder(tmp_path):
    with pytest.raises(TokenizerUnavailable, match="does not exist.*tokenizer.json"):
        make_counter(f"hf:{tmp_path / 'nope'}")


def test_missing_tokenizer_json(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": CHATML}))
    with pytest.raises(TokenizerUnavailable, match="no tokenizer.json"):
        HFTemplateCounter(tmp_path)
    (tmp_path / "tokenizer.model").write_bytes(b"\0")
    with pytest.raises(TokenizerUnavailable, match="only tokenizer.model.*save_pretrained"):
        HFTemplateCounter(tmp_path)


def test_missing_chat_template(tmp_path):
    folder = build_tokenizer(tmp_path, None)
    with pytest.raises(TokenizerUnavailable, match="no chat template.*chat_template.jinja"):
        HFTemplateCounter(folder)


def test_invalid_template_is_reported_at_load(tmp_path):
    folder = build_tokenizer(tmp_path, "{% for m in messages %}{{ m.content }")
    with pytest.raises(TokenizerUnavailable, match="not valid Jinja"):
        HFTemplateCounter(folder)


def test_template_is_sandboxed(tmp_path):
    folder = build_tokenizer(tmp_path, "{{ messages.__class__.__mro__ }}")
    with pytest.raises(ChatTemplateError):
        HFTemplateCounter(folder).count_messages([{"role": "user", "content": "Hi"}])


def test_does_not_import_transformers_or_torch(chatml):
    code = textwrap.dedent(f"""
        import sys
        from tunelint.linter.tokens import make_counter
        from tunelint.linter.analyze import Analyzer
        c = make_counter({f"hf:{chatml}"!r})
        t = c.count_messages([{{"role": "user", "content": "Hi"}}, {{"role": "assistant", "content": "Hello"}}])
        assert t.total > 0 and t.trainable > 0, t
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("transformers", "torch"))
        assert not bad, bad
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_matches_transformers_when_installed(tmp_path):
    """Rendering, ids and the assistant mask agree with transformers' apply_chat_template."""
    transformers = pytest.importorskip("transformers")
    folder = build_tokenizer(tmp_path, CHATML_GENERATION)
    hf = transformers.PreTrainedTokenizerFast.from_pretrained(str(folder))
    msgs = [dict(m, weight=1) for m in CONVERSATION]
    out = hf.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    t = HFTemplateCounter(folder).count_messages(msgs)
    assert t.total == len(out["input_ids"])
    assert t.trainable == sum(out["assistant_masks"])


def test_the_hovers_marked_template_shows_exactly_the_trained_tokens(tmp_path):
    import orjson

    from tunelint.linter.settings import Settings
    from tunelint.server.features import token_breakdown

    folder = build_tokenizer(tmp_path, INST_SYSTEM_IN_LAST_USER, eos_token="</s>")
    msgs = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "capital no quick"}, {"role": "assistant", "content": "capital no"},
            {"role": "user", "content": "Paris"}, {"role": "assistant", "content": "yes"}]
    settings = Settings(profile="hf", tokenizer=f"hf:{folder}")
    text = token_breakdown(HFTemplateCounter(folder), settings, orjson.dumps({"messages": msgs}).decode())
    # the answer whose text also starts the user turn before it: the answer is marked, not the user's words
    assert "[INST] capital no quick [/INST]⟦ capital no</s>⟧[INST] Be brief.\n\nParis [/INST]⟦ yes</s>⟧" in text
