"""The preview's pieces without a server: which Hugging Face tokenizer renders the model view
(the configured `hf:` one, else the training model's folder), and a preview whose counts come
from one tokenizer and whose model view from the training model's."""

import json

from tests import hf_fixtures as F
from tunelint.linter.hf_tokens import HFTemplateCounter
from tunelint.linter.tokens import make_counter
from tunelint.server.preview import build, template_tokenizer


def test_the_model_view_uses_the_configured_hf_tokenizer_else_the_training_models(tmp_path):
    model = F.build_tokenizer(tmp_path / "model", F.CHATML)
    assert template_tokenizer("hf:/x", str(model)) == "hf:/x"
    assert template_tokenizer("o200k_base", str(model)) == f"hf:{model}"
    assert template_tokenizer("o200k_base", "tiny") is None  # built at training time, from the data
    assert template_tokenizer("o200k_base", str(tmp_path / "nothing-here")) is None
    assert template_tokenizer(None, None) is None


def test_counts_from_the_linters_tokenizer_and_the_view_from_the_models(tmp_path):
    folder = F.build_tokenizer(tmp_path / "model", F.CHATML)
    line = json.dumps({"messages": [{"role": "user", "content": "Hello there!"},
                                    {"role": "assistant", "content": "How can I help you today?"}]})
    p = build(line, [], None, counter=make_counter("o200k_base"), tokenizer="o200k_base", limit=4096,
              model_counter=HFTemplateCounter(str(folder)), model_tokenizer=f"hf:{folder}", max_length=8)
    assert p["tokens"]["tokenizer"] == "o200k_base" and p["tokens"]["total"] > 0
    m = p["model"]
    assert m["tokenizer"] == f"hf:{folder}" and m["text"].startswith("<|im_start|>user\nHello there!")
    assert m["truncation"]["token"] == 8 and m["truncation"]["dropped"] == m["tokenCount"] - 8
    trained = "".join(m["text"][s:e] for s, e in m["trainedChars"])
    assert trained == "How can I help you today?<|im_end|>"


def test_without_a_tokenizer_the_preview_still_shows_the_conversation():
    line = json.dumps({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]})
    p = build(line, [], None, counter=None, tokenizer=None, limit=4096, model_counter=None,
              model_tokenizer=None, max_length=1024)
    assert [m["text"] for m in p["messages"]] == ["Hi", "Yo"] and p["tokens"] is None
    assert "hf:" in p["model"]["unavailable"]


def test_a_tool_call_without_arguments_is_shown_and_says_so():
    line = json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f"}},
        {"id": "2", "type": "function", "function": {"name": "g", "arguments": "{oops"}}]}]})
    p = build(line, [], None, counter=None, tokenizer=None, limit=4096, model_counter=None,
              model_tokenizer=None, max_length=1024)
    first, second = p["messages"][1]["toolCalls"]
    assert (first["name"], first["argumentsPath"], first["argumentsError"]) == ("f", None, "the call has no arguments")
    assert second["arguments"] == "{oops" and "not valid JSON" in second["argumentsError"]
    assert second["argumentsPath"] == ["messages", 1, "tool_calls", 1, "function", "arguments"]
