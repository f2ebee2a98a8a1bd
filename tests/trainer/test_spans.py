"""The trainer's assistant-only mask (trainer/data.py) and the linter's trainable-token count
(linter/hf_tokens.py, `hf:` tokenizers) are one algorithm (linter/assistant_spans.py) given two
renderers and two tokenizers: transformers' and the linter's own. On every fixture template the
trainer's labels are the linter's trained tokens, position by position, including the templates
that render a conversation's beginning differently once it goes on, list contents, tool calls
and templates without an end-of-turn token."""

import pytest
from transformers import AutoTokenizer

from tests import hf_fixtures as F
from tunelint.linter.hf_tokens import HFTemplateCounter
from tunelint.trainer import tiny
from tunelint.trainer.data import TrainingExample, encode, end_of_turn

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"},
     {"role": "assistant", "content": "The capital of France is Paris."}],
    [{"role": "user", "content": "Hello there!"}, {"role": "assistant", "content": "How can I help you today?"},
     {"role": "user", "content": "Two plus two?"}, {"role": "assistant", "content": "Two plus two equals four."}],
    [{"role": "user", "content": "Hello there!"},
     {"role": "assistant", "content": "How can I help you today?", "weight": 0},
     {"role": "user", "content": "Two plus two?"}, {"role": "assistant", "content": "Two plus two equals four."}],
    # the answer's text is also in the user turn before it
    [{"role": "user", "content": "capital no quick"}, {"role": "assistant", "content": "capital no"},
     {"role": "user", "content": "Paris"}, {"role": "assistant", "content": "yes"}],
]
SYSTEM = [{"role": "system", "content": "You are a helpful assistant."}]
LISTS = [
    [{"role": "user", "content": [{"type": "text", "text": "Hello there!"}]},
     {"role": "assistant", "content": [{"type": "text", "text": "How can I help you today?"}]},
     {"role": "user", "content": [{"type": "text", "text": "Two plus two?"}]},
     {"role": "assistant", "content": [{"type": "text", "text": "Two plus"}, {"type": "text", "text": " four."}]}],
]
CALLS = [{"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
TOOL_CALLS = [
    [{"role": "user", "content": "weather in Paris?"}, {"role": "assistant", "content": None, "tool_calls": CALLS},
     {"role": "tool", "content": "sunny"}, {"role": "assistant", "content": "It is sunny."}],
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "city weather",
                                           "parameters": {"type": "object", "properties": {}}}}]

TEXT = "(message['content'] if message['content'] is string else message['content'] | map(attribute='text') | join)"
LIST_CHATML = F.CHATML.replace("message['content']", TEXT)
LIST_INST_SYSTEM_IN_LAST_USER = F.INST_SYSTEM_IN_LAST_USER.replace("message['content']", TEXT)
TOOL_CALL_CHATML = F.CHATML.replace("message['content']", "(message['content'] if message['content'] is defined "
                                    "else message['tool_calls'] | tojson)")
# no end-of-turn token at all: a turn ends with the template's blank line
NO_END_TOKEN = ("{% for message in messages %}{{ '### ' + message['role'] + ':\n' + message['content'] + '\n\n' }}"
                "{% endfor %}{% if add_generation_prompt %}{{ '### assistant:\n' }}{% endif %}")


def with_system(conversations):
    return conversations + [SYSTEM + c for c in conversations]


FIXTURES = {  # id: (template, eos_token, conversations, tools)
    "chatml": (F.CHATML, "<|im_end|>", with_system(CONVERSATIONS), None),
    "chatml-generation": (F.CHATML_GENERATION, "<|im_end|>", with_system(CONVERSATIONS), None),
    "think-last": (F.CHATML_THINK_LAST, "<|im_end|>", with_system(CONVERSATIONS), None),
    "inst": (F.INST, "</s>", CONVERSATIONS, None),
    "inst-system-last": (F.INST_SYSTEM_IN_LAST_USER, "</s>", with_system(CONVERSATIONS), None),
    "chatml-tools": (F.CHATML_TOOLS, "<|im_end|>", with_system(CONVERSATIONS), TOOLS),
    "chatml-base-eos": (F.CHATML, "<|endoftext|>", with_system(CONVERSATIONS), None),  # eos is not the turn's end
    "tiny": (tiny.CHATML, "<|im_end|>", with_system(CONVERSATIONS), None),
    "list-chatml": (LIST_CHATML, "<|im_end|>", with_system(LISTS), None),
    "list-inst-system-last": (LIST_INST_SYSTEM_IN_LAST_USER, "</s>", with_system(LISTS), None),
    "tool-calls": (TOOL_CALL_CHATML, "<|im_end|>", TOOL_CALLS, None),
    "no-end-token": (NO_END_TOKEN, "<|endoftext|>", with_system(CONVERSATIONS), None),
}


def load(tmp_path, template, eos):
    folder = F.build_tokenizer(tmp_path / "tok", template, eos_token=eos)
    return AutoTokenizer.from_pretrained(str(folder)), HFTemplateCounter(str(folder))


def trained_text(tok, enc):
    return tok.decode([t for t in enc.labels if t != -100])


@pytest.mark.parametrize(("template", "eos", "system"), [
    (F.CHATML, "<|im_end|>", True),
    (F.CHATML_GENERATION, "<|im_end|>", True),  # the generation blocks
    (F.CHATML_THINK_LAST, "<|im_end|>", True),
    (F.INST, "</s>", False),
    (F.INST_SYSTEM_IN_LAST_USER, "</s>", False),
    (F.INST_SYSTEM_IN_LAST_USER, "</s>", True),  # Mistral: the system prompt in the last user turn
], ids=["chatml", "chatml-generation", "think-last", "inst", "inst-system-last", "inst-system-last-with-system"])
def test_the_trainers_mask_is_the_linters_trainable_count(tmp_path, template, eos, system):
    tok, counter = load(tmp_path, template, eos)
    for messages in CONVERSATIONS + ([SYSTEM + c for c in CONVERSATIONS] if system else []):
        enc = encode(tok, TrainingExample(1, messages), 4096)
        counted = counter.count_messages(messages)
        assert len(enc.input_ids) == counted.total
        assert enc.trained == counted.trainable, messages
        assert enc.last_turn == (counted.last_assistant_start, counted.last_assistant_end)


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_the_trainers_labels_are_the_linters_trained_tokens(tmp_path, fixture):
    template, eos, conversations, tools = FIXTURES[fixture]
    tok, counter = load(tmp_path, template, eos)
    for messages in conversations:
        enc = encode(tok, TrainingExample(1, messages, tools), 4096)
        spans = counter.trained_spans(messages, tools)
        assert list(spans.tokens.ids) == enc.input_ids, messages
        assert [t if m else -100 for t, m in zip(spans.tokens.ids, spans.mask, strict=True)] == enc.labels, messages
        assert enc.last_turn == spans.last_turn
        counted = counter.count_messages(messages, tools)
        assert (enc.trained, enc.last_turn) == (counted.trainable, (counted.last_assistant_start,
                                                                    counted.last_assistant_end))
        # every trained turn is found, and ends with its end-of-turn token
        assert spans.unlocated == []
        if fixture != "no-end-token":
            for i in spans.trained:
                assert enc.labels[spans.turns[i][1] - 1] in end_of_turn(tok).ids, (messages, i)


def test_an_answer_whose_text_is_in_the_prompt_trains_the_answer(tmp_path):
    # Mistral moves the system prompt into the last user turn, so the first answer's prefix renders
    # differently; the answer "capital no" is also the start of the user turn before it
    tok, _ = load(tmp_path, F.INST_SYSTEM_IN_LAST_USER, "</s>")
    enc = encode(tok, TrainingExample(1, SYSTEM + CONVERSATIONS[3]), 4096)
    assert trained_text(tok, enc) == " capital no</s> yes</s>"
    prompt = tok("<s>[INST] capital no quick [/INST]", add_special_tokens=False)["input_ids"]
    assert enc.input_ids[:len(prompt)] == prompt and set(enc.labels[:len(prompt)]) == {-100}


def test_list_contents_are_trained_where_earlier_turns_render_differently(tmp_path):
    tok, _ = load(tmp_path, LIST_INST_SYSTEM_IN_LAST_USER, "</s>")
    enc = encode(tok, TrainingExample(1, SYSTEM + LISTS[0]), 4096)
    assert trained_text(tok, enc) == " How can I help you today?</s> Two plus four.</s>"


def test_the_prefix_method_gives_the_generation_markers_mask(tmp_path):
    # the tiny model's template without its generation blocks: the mask from the prefix renders
    # is the one transformers' markers give
    _, marked = tiny.build(["hello world", "the lamp is on", "plus is"] * 20, tmp_path / "m", vocab_size=300)
    plain = AutoTokenizer.from_pretrained(str(tmp_path / "m"))
    plain.chat_template = tiny.CHATML.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    for msgs in with_system(CONVERSATIONS):
        ref = marked.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
        enc = encode(plain, TrainingExample(1, msgs), 512)
        weighted = [int(x != -100) for x in encode(marked, TrainingExample(1, msgs), 512).labels]
        assert enc.input_ids == list(ref["input_ids"])
        assert [int(x != -100) for x in enc.labels] == weighted
        if all(m.get("weight", 1) for m in msgs):
            assert weighted == list(ref["assistant_masks"])


def test_generation_blocks_are_what_is_trained(tmp_path):
    # blocks that leave the end-of-turn token out: the trainer trains what they mark, as
    # transformers' assistant mask does, not what the prefix renders would give
    template = F.CHATML_GENERATION.replace("message['content'] + '<|im_end|>' }}{% endgeneration %}",
                                           "message['content'] }}{% endgeneration %}{{ '<|im_end|>' }}")
    assert template != F.CHATML_GENERATION
    tok, counter = load(tmp_path, template, "<|im_end|>")
    msgs = SYSTEM + CONVERSATIONS[1]
    enc = encode(tok, TrainingExample(1, msgs), 4096)
    ref = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert [int(x != -100) for x in enc.labels] == list(ref["assistant_masks"])
    assert trained_text(tok, enc) == "How can I help you today?Two plus two equals four."
    assert enc.trained == counter.count_messages(msgs).trainable
