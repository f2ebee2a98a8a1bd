"""Every rule that reads a field applies to every format that carries it.

The table below decides, for every per-example rule and every format tunelint reads, either an
example in that format on which the rule fires (under a profile that takes what the example
tests), or why the rule does not apply there. A new format, or a new rule, fails
`test_the_table_decides_every_rule_for_every_format` until each pair is decided; a rule whose
`formats` disagree with the table fails `test_rules_run_on_the_formats_the_table_says`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tunelint.linter.example import FORMATS
from tunelint.linter.rule import all_rules
from tunelint.linter.settings import Settings

from ._lint import lint


@dataclass(frozen=True)
class Fires:
    """The rule fires on `example` under `profile`."""

    example: dict
    profile: str = "openai"
    tokens: int | None = None  # a token limit (with o200k_base) for the token rules
    select: tuple[str, ...] = ("TL",)  # the rules on (a rule off by default is selected by its code)


@dataclass(frozen=True)
class NotRun:
    """The rule does not run on the format, and why."""

    reason: str


@dataclass(frozen=True)
class Quiet:
    """The rule runs on the format but cannot fire there, and why."""

    reason: str


# the formats' example lines, and pieces to build them
U = {"role": "user", "content": "What is the capital of France?"}
A = {"role": "assistant", "content": "Paris."}
S = {"role": "system", "content": "You are a geography tutor."}
PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5"
       "ErkJggg==")
BIG = "data:image/png;base64," + "A" * (14 * 1024 * 1024)  # 10.5 MB decoded: over 10 MB
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def call(cid="call_1", name="get_weather", arguments='{"city": "Paris"}'):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": arguments}}


def answer(cid="call_1"):
    return {"role": "tool", "tool_call_id": cid, "content": '{"temp_c": 18}'}


def img(url=PNG):
    return {"type": "image_url", "image_url": {"url": url}}


def txt(t="Describe the chart."):
    return {"type": "text", "text": t}


def chat(*msgs, **extra):
    return {"messages": list(msgs), **extra}


def pref(*input_msgs, good=A, bad=None, **input_extra):
    return {"input": {"messages": list(input_msgs) or [U], **input_extra}, "preferred_output": [good],
            "non_preferred_output": [bad or {"role": "assistant", "content": "Lyon."}]}


def pc(prompt="What is the capital of France?", completion="Paris.", **extra):
    return {"prompt": prompt, "completion": completion, **extra}


def sharegpt(human="What is the capital of France?", gpt="Paris."):
    return {"conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]}


def alpaca(instruction="Name the capital of France.", output="Paris."):
    return {"instruction": instruction, "output": output}


def text(t="Paris is the capital of France."):
    return {"text": t}


def tool_chat(*calls_, answers=None, final=True, tools=(TOOL,)):
    calls_ = calls_ or (call(),)
    msgs = [U, {"role": "assistant", "content": None, "tool_calls": list(calls_)}]
    msgs += answers if answers is not None else [answer(c["id"]) for c in calls_]
    return chat(*msgs, *([A] if final else []), tools=list(tools))


def tool_pref(*calls_, answers=None, tools=(TOOL,)):
    """A preference record whose input makes the tool calls (tools in `input`)."""
    calls_ = calls_ or (call(),)
    msgs = [U, {"role": "assistant", "content": None, "tool_calls": list(calls_)}]
    msgs += answers if answers is not None else [answer(c["id"]) for c in calls_]
    return pref(*msgs, {"role": "user", "content": "Thanks. And tomorrow?"}, tools=list(tools))


def images(n):
    return [img() for _ in range(n)]


NO_MESSAGES = NotRun("the format has no messages")
NO_TOOLS = NotRun("the format has no tools or tool calls")
NOT_PREF = NotRun("not a preference record")
STRINGS = NotRun("its fields are strings under every profile (TL110): no content parts")
CONVERT = NotRun("no profile takes the format (TL109): `tunelint convert` writes chat, which is checked")
FIELD = NotRun("a missing, empty or mistyped field of the format is TL110")
WS = "  Paris.  "
TOKENS = "Paris is the capital and largest city of France. " * 40

TABLE: dict[str, dict[str, Fires | NotRun | Quiet]] = {
    "TL101": {"chat": Fires({"messages": {}}),
              "preference": NotRun("a preference record's `input.messages` is TL501"),
              "prompt_completion": NO_MESSAGES, "sharegpt": NotRun("ShareGPT's `conversations` is TL110"),
              "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL102": {"chat": Fires(chat("Hi", A)), "preference": Fires(pref(good="Paris.")),
              "prompt_completion": NO_MESSAGES, "sharegpt": NotRun("a ShareGPT turn that is not an object is TL110"),
              "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL103": {"chat": Fires(chat({"content": "Hi"}, A)), "preference": Fires(pref({"content": "Hi"})),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL104": {"chat": Fires(chat({"role": "human", "content": "Hi"}, A)),
              "preference": Fires(pref({"role": "human", "content": "Hi"})),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL105": {"chat": Fires(chat({"role": "user", "content": 42}, A)),
              "preference": Fires(pref({"role": "user", "content": 42})),
              "prompt_completion": FIELD, "sharegpt": FIELD, "alpaca": FIELD, "text": FIELD},
    "TL106": {"chat": Fires(chat(U, A, id=7)), "preference": Fires(pref(meta=1)),
              "prompt_completion": Fires(pc(meta=1), "together"), "sharegpt": CONVERT, "alpaca": CONVERT,
              "text": Fires({"text": "Paris.", "meta": 1}, "together")},
    "TL107": {"chat": Fires(chat({**U, "name": "Ann Smith"}, A)),
              "preference": Fires(pref({**U, "name": "Ann Smith"})),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL108": {"chat": Fires(chat(U, {**A, "weight": 0.5})),
              "preference": Fires(pref(U, {**A, "weight": 0.5}, U)),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL109": {"chat": Quiet("every profile takes chat"), "preference": Fires(pref(), "mistral"),
              "prompt_completion": Fires(pc()), "sharegpt": Fires(sharegpt()), "alpaca": Fires(alpaca()),
              "text": Fires(text())},
    "TL110": {"chat": NotRun("messages are checked by TL1xx"), "preference": NotRun("checked by TL1xx and TL5xx"),
              "prompt_completion": Fires(pc(completion=""), "together"), "sharegpt": Fires(sharegpt(gpt=None)),
              "alpaca": Fires(alpaca(output=" ")), "text": Fires(text(""), "together")},
    "TL201": {"chat": Fires(chat(U)), "preference": NotRun("the outputs are the trained turns (TL502)"),
              "prompt_completion": FIELD, "sharegpt": CONVERT, "alpaca": FIELD, "text": NotRun("nothing is an answer")},
    "TL202": {"chat": Fires(chat(U, A, U)), "preference": NotRun("the input ends before the answer (TL501)"),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL203": {"chat": Fires(chat(U, A, S, U, A)), "preference": Fires(pref(U, A, S, U)),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL204": {"chat": Fires(chat(U, U, A)), "preference": Fires(pref(U, U)),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL205": {"chat": Fires(chat({"role": "user", "content": " "}, A)),
              "preference": Fires(pref({"role": "user", "content": " "})),
              "prompt_completion": FIELD, "sharegpt": FIELD, "alpaca": FIELD, "text": FIELD},
    "TL206": {"chat": Fires(chat(U, {"role": "assistant"})), "preference": Fires(pref(good={"role": "assistant"})),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL207": {"chat": Fires(chat(S, A)), "preference": NotRun("the input is the prompt itself (TL501 checks it)"),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL208": {"chat": Fires(chat(S, {"role": "user", "content": [txt()]}, A), "together"),
              "preference": Fires(pref(S, {"role": "user", "content": [txt()]}), "together"),
              "prompt_completion": NotRun("prompt and completion are checked each on its own (so does Together)"),
              "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL209": {"chat": Fires(chat(S, S, U, A), "mistral"), "preference": Fires(pref(S, S, U), "mistral"),
              "prompt_completion": NO_MESSAGES, "sharegpt": CONVERT, "alpaca": NO_MESSAGES, "text": NO_MESSAGES},
    "TL301": {"chat": Fires(chat(U, A, tools=[{"type": "function"}])),
              "preference": Fires(pref(tools=[{"type": "function"}])),
              "prompt_completion": NO_TOOLS, "sharegpt": CONVERT, "alpaca": NO_TOOLS, "text": NO_TOOLS},
    "TL302": {"chat": Fires(tool_chat({"type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                                      answers=[])),
              "preference": Fires(tool_pref({"type": "function", "function": {"name": "get_weather",
                                                                              "arguments": "{}"}}, answers=[])),
              "prompt_completion": NO_TOOLS, "sharegpt": CONVERT, "alpaca": NO_TOOLS, "text": NO_TOOLS},
    "TL303": {"chat": Fires(tool_chat(call(arguments="{city: Paris}"))),
              "preference": Fires(tool_pref(call(arguments="{city: Paris}"))),
              "prompt_completion": NO_TOOLS, "sharegpt": CONVERT, "alpaca": NO_TOOLS, "text": NO_TOOLS},
    "TL304": {"chat": Fires(tool_chat(call(arguments='{"city": 3}'))),
              "preference": Fires(tool_pref(call(arguments='{"city": 3}'))),
              "prompt_completion": NO_TOOLS, "sharegpt": CONVERT, "alpaca": NO_TOOLS, "text": NO_TOOLS},
    "TL305": {"chat": Fires(tool_chat(call(name="get_time"))), "preference": Fires(tool_pref(call(name="get_time"))),
              "prompt_completion": NO_TOOLS, "sharegpt": CONVERT, "alpaca": NO_TOOLS, "text": NO_TOOLS},
    "TL306": {"chat": Fires(tool_chat(call(), call(), answers=[answer()])),
              "preference": Fires(tool_pref(call(), call(), answers=[answer()])),
              "prompt_completion": NO_TOOLS, "sharegpt": CONVERT, "alpaca": NO_TOOLS, "text": NO_TOOLS},
    "TL307": {"chat": Fires(tool_chat(answers=[answer("call_9")])),
              "preference": Fires(tool_pref(answers=[answer("call_9")])),
              "prompt_completion": NO_TOOLS, "sharegpt": CONVERT, "alpaca": NO_TOOLS, "text": NO_TOOLS},
    "TL308": {"chat": Fires(tool_chat(answers=[])), "preference": Fires(tool_pref(answers=[])),
              "prompt_completion": NO_TOOLS, "sharegpt": CONVERT, "alpaca": NO_TOOLS, "text": NO_TOOLS},
    "TL401": {"chat": Fires(chat({"role": "user", "content": [{"type": "audio"}]}, A)),
              "preference": Fires(pref({"role": "user", "content": [{"type": "audio"}]})),
              "prompt_completion": Fires(pc(prompt=[{"type": "audio"}]), "together"),
              "sharegpt": STRINGS, "alpaca": STRINGS, "text": STRINGS},
    "TL402": {"chat": Fires(chat({"role": "user", "content": [txt(), img("./chart.png")]}, A)),
              "preference": Fires(pref({"role": "user", "content": [txt(), img("https://example.com/c.png")]}),
                                  "together"),
              "prompt_completion": Fires(pc(prompt=[txt(), img("https://example.com/c.png")]), "together"),
              "sharegpt": STRINGS, "alpaca": STRINGS, "text": STRINGS},
    "TL403": {"chat": Fires(chat(U, {"role": "assistant", "content": [img()]})),
              "preference": Fires(pref({"role": "user", "content": [txt(), img()]})),
              "prompt_completion": Fires(pc(prompt=[txt()], completion=[img()]), "together"),
              "sharegpt": STRINGS, "alpaca": STRINGS, "text": STRINGS},
    "TL404": {"chat": Fires(chat({"role": "user", "content": images(11)}, A)),
              "preference": Fires(pref({"role": "user", "content": images(11)}), "together"),
              "prompt_completion": Fires(pc(prompt=images(11), completion=[txt("Charts.")]), "together"),
              "sharegpt": STRINGS, "alpaca": STRINGS, "text": STRINGS},
    "TL405": {"chat": Fires(chat({"role": "user", "content": [img(BIG)]}, A)),
              "preference": Fires(pref({"role": "user", "content": [img(BIG)]}), "together"),
              "prompt_completion": Fires(pc(prompt=[img(BIG)], completion=[txt("A chart.")]), "together"),
              "sharegpt": STRINGS, "alpaca": STRINGS, "text": STRINGS},
    "TL501": {"chat": NOT_PREF, "preference": Fires(pref(U, A)), "prompt_completion": NOT_PREF,
              "sharegpt": NOT_PREF, "alpaca": NOT_PREF, "text": NOT_PREF},
    "TL502": {"chat": NOT_PREF, "preference": Fires({**pref(), "preferred_output": [A, A]}),
              "prompt_completion": NOT_PREF, "sharegpt": NOT_PREF, "alpaca": NOT_PREF, "text": NOT_PREF},
    "TL503": {"chat": NOT_PREF, "preference": Fires(pref(bad=A)), "prompt_completion": NOT_PREF,
              "sharegpt": NOT_PREF, "alpaca": NOT_PREF, "text": NOT_PREF},
    "TL601": {"chat": Fires(chat(U, {"role": "assistant", "content": "Paris.<|im_end|>"})),
              "preference": Fires(pref(good={"role": "assistant", "content": "Paris.<|im_end|>"})),
              "prompt_completion": Fires(pc(completion="Paris.<|im_end|>"), "together"),
              "sharegpt": Fires(sharegpt(gpt="Paris.<|im_end|>")), "alpaca": Fires(alpaca(output="Paris.<|im_end|>")),
              "text": Fires(text("<|im_start|>user\nHi<|im_end|>"), "together")},
    "TL602": {"chat": Fires(chat(U, {"role": "assistant", "content": "Paris.\nUser: thanks"})),
              "preference": Fires(pref(good={"role": "assistant", "content": "Paris.\nUser: thanks"})),
              "prompt_completion": Fires(pc(completion="Paris.\nUser: thanks"), "together"),
              "sharegpt": Fires(sharegpt(gpt="Paris.\nUser: thanks")),
              "alpaca": Fires(alpaca(output="Paris.\nUser: thanks")),
              "text": Fires(text("User: hi\nAssistant: hello"), "together")},
    "TL603": {"chat": Fires(chat(U, {"role": "assistant", "content": WS})),
              "preference": Fires(pref(good={"role": "assistant", "content": WS})),
              "prompt_completion": Fires(pc(completion=WS), "together"), "sharegpt": Fires(sharegpt(gpt=WS)),
              "alpaca": Fires(alpaca(output=WS)), "text": NotRun("plain text has no answer to strip")},
    "TL604": {"chat": Fires(chat(U, {"role": "assistant", "content": "TODO"})),
              "preference": Fires(pref(good={"role": "assistant", "content": "TODO"})),
              "prompt_completion": Fires(pc(completion="TODO"), "together"), "sharegpt": Fires(sharegpt(gpt="TODO")),
              "alpaca": Fires(alpaca(output="TODO")), "text": Fires(text("lorem ipsum dolor sit amet"), "together")},
    "TL701": {"chat": Fires(chat(U, {"role": "assistant", "content": TOKENS}), tokens=100),
              "preference": Fires(pref(good={"role": "assistant", "content": TOKENS}), tokens=100),
              "prompt_completion": Fires(pc(completion=TOKENS), "together", tokens=100),
              "sharegpt": Fires(sharegpt(gpt=TOKENS), tokens=100), "alpaca": Fires(alpaca(output=TOKENS), tokens=100),
              "text": Fires(text(TOKENS), "together", tokens=100)},
    "TL702": {"chat": Fires(chat(U, {"role": "assistant", "content": ""}), tokens=100),
              "preference": NotRun("an empty output is TL205"), "prompt_completion": FIELD, "sharegpt": CONVERT,
              "alpaca": FIELD, "text": NotRun("plain text is trained as a whole")},
    "TL703": {"chat": Fires(chat(U, {"role": "assistant", "content": TOKENS}), tokens=100),
              "preference": NotRun("how a pair is cut is the trainer's (Together gives each output half the "
                                   "context); TL701 counts the input and the preferred output"),
              "prompt_completion": Fires(pc(completion=TOKENS), "together", tokens=100), "sharegpt": CONVERT,
              "alpaca": CONVERT, "text": NotRun("plain text has no answer to cut")},
}


def _content_row(answer: str, question: str = "What is the capital of France?", *, text_too: bool = True,
                 select: tuple[str, ...] = ("TL",)) -> dict:
    """A content rule's row: it fires on an answer holding `answer` in every format (and on plain
    text, when `text_too`)."""
    a = {"role": "assistant", "content": answer}
    u = {"role": "user", "content": question}
    return {"chat": Fires(chat(u, a), select=select), "preference": Fires(pref(u, good=a), select=select),
            "prompt_completion": Fires(pc(question, answer), "together", select=select),
            "sharegpt": Fires(sharegpt(question, answer), select=select),
            "alpaca": Fires(alpaca(question, answer), select=select),
            "text": (Fires(text(answer), "together", select=select) if text_too
                     else NotRun("plain text has no answer"))}


LONG_EN = "The capital of France is Paris, a large city on the river Seine that is known for its museums."
LONG_DE = "Die Hauptstadt von Frankreich ist Paris, eine große Stadt an der Seine, bekannt für ihre Museen."
TABLE.update({
    "TLC101": _content_row("Write to jane.doe@gmail.com."),
    "TLC102": _content_row("Call +1 415-555-2671 today.", select=("TLC102",)),
    "TLC103": _content_row("Card 4539 1488 0343 6467."),
    "TLC104": _content_row("IBAN DE89 3704 0044 0532 0130 00."),
    "TLC105": _content_row("The server is at 8.8.8.8 now."),
    "TLC106": _content_row("Use ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 as the token."),
    "TLC202": _content_row(LONG_DE, LONG_EN, text_too=False, select=("TLC202",)),
    "TLC301": _content_row(" ".join(["I will help you with that."] * 20), text_too=False, select=("TLC301",)),
    "TLC401": _content_row("As an AI language model, I cannot.", text_too=False),
    "TLC501": _content_row("The caf\u00c3\u00a9 is open."),
    "TLC502": _content_row("The caf\ufffd is open."),
})


def _rules():
    return [r for r in all_rules() if r.scope == "example" and r.check is not None]


def test_the_table_decides_every_rule_for_every_format():
    assert sorted(TABLE) == sorted(r.code for r in _rules()), "a rule without a row, or a row without a rule"
    undecided = {code: sorted(set(FORMATS) - set(row)) for code, row in TABLE.items() if set(row) != set(FORMATS)}
    assert not undecided, f"decide these formats: {undecided}"


def test_rules_run_on_the_formats_the_table_says():
    for r in _rules():
        declared = r.formats or frozenset(FORMATS)
        runs = {fmt for fmt, entry in TABLE[r.code].items() if not isinstance(entry, NotRun)}
        assert declared == runs, f"{r.code} runs on {sorted(declared)}, the table says {sorted(runs)}"


CASES = [(code, fmt, entry) for code, row in TABLE.items() for fmt, entry in row.items() if isinstance(entry, Fires)]


@pytest.mark.parametrize(("code", "fmt", "entry"), CASES, ids=[f"{c}-{f}" for c, f, _ in CASES])
def test_rule_fires_in_the_format(code, fmt, entry):
    from tunelint.linter.example import detect_format

    assert detect_format(entry.example) == fmt, "the example is not in the format it is listed under"
    settings = Settings(profile=entry.profile, tokenizer="o200k_base" if entry.tokens else None,
                        max_tokens=entry.tokens, max_line_bytes=32 * 1024 * 1024, select=entry.select)
    found = lint(json.dumps(entry.example), settings).findings
    assert code in {f.code for f in found}, f"{code} does not fire on {fmt}: {[(f.code, f.message) for f in found]}"
