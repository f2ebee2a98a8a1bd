"""Deterministic generator of realistic chat fine-tuning JSONL for the benchmarks.

Every byte depends only on (GENERATOR_VERSION, seed, n): the text comes from `random.Random(seed)`
and nothing iterates a set or a dict whose order depends on string hashing.

What a generated file looks like (about 2.5 KB per example on average, long-tailed):

* a system prompt in ~92% of the examples, most drawn (Zipf-like) from a pool of 40 shared
  prompts of 80-1500 characters, ~15% unique to their example;
* 1-4 user/assistant turns of English-like text: sentences of words drawn from a ~3,500 word
  vocabulary with Zipf frequencies, punctuation, numbers, units, inline `code`, markdown lists,
  headings and bold, fenced code blocks in ~12% of the assistant answers, and non-ASCII
  (accented words, typographic quotes and dashes, a CJK / Cyrillic / Greek / Arabic / Devanagari
  phrase in a few percent of the messages, the odd emoji);
* `weight: 0` on an earlier assistant turn in ~3% of the multi-turn examples;
* ~2% tool-use examples: `tools` definitions, an assistant `tool_calls` message, a `tool` answer
  and a final assistant answer;
* ~1% faulty lines, spread evenly over three kinds: invalid JSON (a trailing comma), a wrong role
  (`human`, `bot`, `Assistant`, `gpt`), and a conversation without an assistant answer.

Beside `NAME.jsonl` it writes:

* `NAME.clean.jsonl`: the same examples with no faults and without tools, so that a checker that
  stops at the first problem (Together's `check_file`) reads the whole file;
* `NAME.edit1pct.jsonl`: a copy with 1% of the (valid JSON) lines slightly rewritten, for the
  warm-cache run;
* `NAME.meta.json`: the parameters and counts; a file whose meta matches is not regenerated.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import string
from pathlib import Path

GENERATOR_VERSION = 2
VOCAB_SIZE = 3500

FAULT_RATE = 0.01
TOOL_RATE = 0.02
EDIT_RATE = 0.01

# --------------------------------------------------------------------------------------------
# vocabulary

_FUNCTION_WORDS = """the of and to a in is that it for you was with on as are be this have
not or by at from but they his her an which we can if will all there their one so what
about would do more when up out has been who them some could into than other its only then
these may also any how our new like just over such because most very your should after
well where much those both each even here must before through being while same between
under never still every many own few might again off without another why around against
""".split()

_CONTENT_WORDS = """time people way year day thing man world life hand part child eye woman
place work week case point company number group problem fact system program question
government home water room mother area money story month lot right study book job word
business issue side kind head house service friend father power hour game line end member
law car city community name president team minute idea kid body information school face
others level office door health person art war history party result change morning reason
research girl guy moment air teacher force education data model file server request user
function value error message table query index cache memory process thread network client
response token dataset training batch layer weight loss gradient schedule config version
release build test deploy pipeline branch commit review issue bug patch feature module package
library framework interface endpoint database schema record field column key string list
array object class method variable parameter argument return type default option setting
account password email address phone order payment invoice price product customer support
ticket refund shipping delivery warehouse inventory supplier contract policy report summary
analysis chart metric budget forecast revenue cost margin quarter meeting agenda project
deadline milestone task owner status priority risk plan goal strategy market audience campaign
brand content article draft outline paragraph sentence chapter note letter recipe ingredient
kitchen oven minute temperature garden plant soil water seed harvest weather rain storm
forecast travel flight hotel ticket passport museum river mountain island coast village
patient doctor symptom treatment dose clinic hospital insurance claim coverage premium
student lesson homework exam grade course lecture professor semester thesis experiment
hypothesis sample measurement variable control observation equation formula proof theorem
angle triangle circle vector matrix derivative integral limit series probability average
make get know take see come think look want give use find tell ask seem feel try leave call
keep let begin show hear play run move live believe hold bring happen write provide sit stand
lose pay meet include continue set learn lead understand watch follow stop create speak read
allow add spend grow open walk win offer remember consider appear buy wait serve die send
expect stay fall cut reach remain suggest raise pass sell require decide pull check update
install configure restart enable disable upload download merge rebase compile parse render
validate convert export import migrate optimize refactor debug measure compare estimate
good new first last long great little own other old right big high different small large
next early young important few public bad same able simple clear quick easy hard recent
possible likely available free full special whole certain real best sure strong local
common similar main final specific current exact safe quiet careful useful typical optional
really actually usually often sometimes probably already quickly slowly carefully simply
""".split()

_ACCENTED = """café naïve résumé façade jalapeño Zürich São über déjà vu fiancée crème brûlée
piñata smörgåsbord Ångström Málaga Kraków Dvořák Gödel Erdős Poincaré Müller Ørsted""".split()

_FOREIGN = [
    "这个问题的答案取决于具体情况。",
    "请把文件上传到服务器。",
    "数据集需要清洗。",
    "このモデルは日本語も理解できます。",
    "ありがとうございます。",
    "설정을 다시 확인해 주세요.",
    "Это зависит от контекста.",
    "Спасибо за ваш вопрос.",
    "Το αρχείο είναι έτοιμο.",
    "هذا مثال بسيط.",
    "यह एक उदाहरण है।",
    "Ça dépend du contexte, évidemment.",
    "Das ist eine schöne Lösung für große Dateien.",
    "¿Dónde está la configuración?",
]
_EMOJI = ["🙂", "🚀", "✅", "⚠️", "🎉", "👍", "🔥", "📈", "🤔", "✨"]
_TYPOGRAPHY = ["—", "–", "…", "“", "”", "’", "°C", "€", "£", "×", "→", "±", "µs"]
_UNITS = ["ms", "MB", "GB", "km", "kg", "%", "px", "USD", "rpm", "°F", "tokens", "lines"]
_LANGS = ["python", "javascript", "bash", "sql", "json"]


def _synthetic_words(rng: random.Random, n: int) -> list[str]:
    """Made-up but pronounceable words: rarer vocabulary that BPE splits into several tokens."""
    onsets = [
        "b",
        "c",
        "d",
        "f",
        "g",
        "h",
        "j",
        "k",
        "l",
        "m",
        "n",
        "p",
        "r",
        "s",
        "t",
        "v",
        "w",
        "z",
        "br",
        "cl",
        "dr",
        "fl",
        "gr",
        "pl",
        "pr",
        "sh",
        "st",
        "th",
        "tr",
        "ch",
        "sp",
        "qu",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "y"]
    codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng", "x", "rt"]
    suffixes = ["", "", "", "ation", "ing", "ed", "ly", "ness", "ment", "able", "ize", "ic", "er"]
    out: list[str] = []
    seen: dict[str, None] = {}
    while len(out) < n:
        w = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
            for _ in range(rng.choice((1, 2, 2, 3)))
        ) + rng.choice(suffixes)
        if w not in seen:
            seen[w] = None
            out.append(w)
    return out


class TextGen:
    """Sentences, paragraphs, markdown and code from a Zipf-weighted vocabulary."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        # Common words first (high frequency), synthetic words last (the long tail).
        vocab = list(dict.fromkeys(_FUNCTION_WORDS + _CONTENT_WORDS))
        n_real = len(vocab)
        vocab += _synthetic_words(rng, VOCAB_SIZE - n_real)
        self.vocab = vocab
        # Zipf frequencies; the made-up words share ~8% of the mass, like rare words in real text.
        self.cum = list(
            itertools.accumulate(
                (1.0 if r < n_real else 0.22) / (r + 2.7) for r in range(len(vocab))
            )
        )
        self.nouns = _CONTENT_WORDS[: len(_CONTENT_WORDS) // 2]

    # -- words ----------------------------------------------------------------------------

    def words(self, k: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=k)

    def number(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return str(rng.randint(2, 99))
        if r < 0.55:
            return f"{rng.randint(1, 999)}.{rng.randint(0, 99)}"
        if r < 0.70:
            return f"{rng.randint(1, 9999):,} {rng.choice(_UNITS)}".replace(" %", "%")
        if r < 0.82:
            return str(rng.randint(1990, 2030))
        if r < 0.92:
            return f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(2019, 2026)}"
        return f"v{rng.randint(0, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"

    def identifier(self) -> str:
        a, b = self.rng.choices(self.nouns, k=2)
        return self.rng.choice((f"{a}_{b}", f"{a}{b.capitalize()}", a, f"get_{a}", f"{a}s"))

    # -- sentences ------------------------------------------------------------------------

    def sentence(self, question: bool = False) -> str:
        rng = self.rng
        n = max(3, min(40, int(rng.gauss(14, 6))))
        ws = self.words(n)
        r = rng.random()
        if r < 0.25:
            ws[rng.randrange(n)] = self.number()
        if rng.random() < 0.10:
            i = rng.randrange(n)
            ws[i] = f"`{self.identifier()}`"
        if rng.random() < 0.04:
            ws[rng.randrange(n)] = rng.choice(_ACCENTED)
        if rng.random() < 0.03:
            ws[rng.randrange(n)] = rng.choice(_TYPOGRAPHY)
        if rng.random() < 0.05:
            i = rng.randrange(n)
            ws[i] = f"“{ws[i]}”" if rng.random() < 0.5 else f'"{ws[i]}"'
        if rng.random() < 0.05 and n > 6:
            i = rng.randrange(n - 3)
            ws[i] = "(" + ws[i]
            ws[i + 2] = ws[i + 2] + ")"
        # commas after ~1 word in 11, never after the last word
        for i in range(n - 1):
            if rng.random() < 0.09:
                ws[i] += ","
        ws[0] = ws[0][:1].upper() + ws[0][1:]
        if question:
            end = "?"
        else:
            p = rng.random()
            end = "." if p < 0.9 else ("!" if p < 0.95 else (":" if p < 0.99 else "…"))
        s = " ".join(ws) + end
        if rng.random() < 0.006:
            s += " " + rng.choice(_EMOJI)
        return s

    def paragraph(self, sentences: int, question_last: bool = False) -> str:
        parts = [
            self.sentence(question=question_last and i == sentences - 1) for i in range(sentences)
        ]
        if self.rng.random() < 0.03:
            parts.insert(self.rng.randrange(len(parts) + 1), self.rng.choice(_FOREIGN))
        return " ".join(parts)

    def code_block(self) -> str:
        rng = self.rng
        lang = rng.choice(_LANGS)
        lines: list[str] = []
        if lang == "python":
            fn, a, b = self.identifier(), self.identifier(), self.identifier()
            lines.append(f"def {fn}({a}, {b}=None):")
            lines.append(f'    """{self.sentence()}"""')
            for _ in range(rng.randint(1, 6)):
                v = self.identifier()
                lines.append(
                    rng.choice(
                        (
                            f"    {v} = {a}.get('{self.identifier()}', {rng.randint(0, 100)})",
                            f"    if {v} is None:\n"
                            f'        raise ValueError("{self.sentence()[:40]}")',
                            f"    for item in {a}:\n        {v}.append(item * {rng.randint(2, 9)})",
                            f"    {v} = [x for x in {b} if x > {self.number()}]",
                            f"    # {self.sentence()[:60]}",
                        )
                    )
                )
            lines.append(f"    return {a}")
        elif lang == "javascript":
            fn = self.identifier()
            lines.append(f"async function {fn}(options) {{")
            for _ in range(rng.randint(1, 5)):
                v = self.identifier()
                lines.append(
                    rng.choice(
                        (
                            f"  const {v} = await fetch("
                            f"`/api/{self.identifier()}/${{options.id}}`);",
                            f"  if (!{v}) throw new Error('{self.sentence()[:40]}');",
                            f"  // {self.sentence()[:60]}",
                            f"  const {v} = options.items.map((x) => x * {rng.randint(2, 9)});",
                        )
                    )
                )
            lines.append("  return options;\n}")
        elif lang == "bash":
            for _ in range(rng.randint(1, 4)):
                lines.append(
                    rng.choice(
                        (
                            f"pip install {self.identifier().replace('_', '-')}=={self.number()}",
                            f"export {self.identifier().upper()}={rng.randint(1, 64)}",
                            f"python -m {self.identifier()} --input data/{self.identifier()}.jsonl",
                            f'grep -rn "{self.identifier()}" src/ | head -n {rng.randint(5, 50)}',
                        )
                    )
                )
        elif lang == "sql":
            t = self.identifier()
            lines.append(f"SELECT {self.identifier()}, COUNT(*) AS n")
            lines.append(f"FROM {t}")
            lines.append(f"WHERE {self.identifier()} > {rng.randint(1, 1000)}")
            lines.append(f"GROUP BY 1 ORDER BY n DESC LIMIT {rng.randint(5, 100)};")
        else:
            obj = {self.identifier(): rng.randint(0, 500) for _ in range(rng.randint(2, 5))}
            obj["note"] = self.sentence()[:50]
            lines.append(json.dumps(obj, indent=2, ensure_ascii=False))
        return f"```{lang}\n" + "\n".join(lines) + "\n```"

    def markdown(self, target_chars: int, code_rate: float) -> str:
        """Assistant-style text of about `target_chars` characters."""
        rng = self.rng
        blocks: list[str] = []
        size = 0
        if rng.random() < code_rate:
            blocks.append(self.code_block())
            size += len(blocks[-1])
        while size < target_chars:
            r = rng.random()
            if r < 0.62 or not blocks:
                b = self.paragraph(rng.randint(1, 5))
            elif r < 0.80:
                k = rng.randint(2, 6)
                numbered = rng.random() < 0.4
                items = [
                    (f"{i + 1}. " if numbered else "- ")
                    + (f"**{self.words(1)[0].capitalize()}**: " if rng.random() < 0.3 else "")
                    + self.sentence()
                    for i in range(k)
                ]
                b = "\n".join(items)
            elif r < 0.88:
                b = "### " + " ".join(self.words(rng.randint(2, 5))).capitalize()
            else:
                b = self.paragraph(rng.randint(2, 4))
            blocks.append(b)
            size += len(b) + 2
        if blocks and blocks[0].startswith("```"):
            blocks.append(blocks.pop(0))  # explanation first, code after
        return "\n\n".join(blocks)

    def user_text(self, target_chars: int) -> str:
        rng = self.rng
        if target_chars > 900 and rng.random() < 0.5:
            # a pasted document or snippet followed by the actual question
            doc = self.markdown(target_chars - 150, code_rate=0.3)
            return doc + "\n\n" + self.paragraph(rng.randint(1, 2), question_last=True)
        parts: list[str] = []
        size = 0
        while size < target_chars:
            parts.append(self.paragraph(rng.randint(1, 3)))
            size += len(parts[-1]) + 2
        parts[-1] += " " + self.sentence(question=True)
        return "\n\n".join(parts)


# --------------------------------------------------------------------------------------------
# examples

_PERSONAS = [
    "a helpful assistant",
    "a senior Python engineer",
    "a customer support agent for {x}",
    "a patient math tutor",
    "a travel planner",
    "a concise technical writer",
    "an SQL expert",
    "a friendly cooking assistant",
    "a legal-document summarizer",
    "a DevOps assistant for {x}",
    "a medical-information assistant (not a doctor)",
    "a data analyst",
    "a product manager's assistant",
    "a translation assistant",
]

_TOOLS = [
    (
        "get_weather",
        "Get the current weather for a city.",
        {
            "city": {"type": "string", "description": "City name, e.g. Zürich"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        ["city"],
    ),
    (
        "search_orders",
        "Search a customer's orders.",
        {
            "customer_id": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "shipped", "returned"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        },
        ["customer_id"],
    ),
    (
        "run_sql",
        "Run a read-only SQL query against the analytics warehouse.",
        {"query": {"type": "string"}, "timeout_s": {"type": "number"}},
        ["query"],
    ),
    (
        "create_ticket",
        "Open a support ticket.",
        {
            "title": {"type": "string"},
            "priority": {"type": "string", "enum": ["low", "normal", "high"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        ["title"],
    ),
    (
        "convert_currency",
        "Convert an amount between currencies.",
        {"amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"}},
        ["amount", "from", "to"],
    ),
    (
        "lookup_docs",
        "Search the product documentation.",
        {"query": {"type": "string"}, "section": {"type": "string"}},
        ["query"],
    ),
]


def _tool_def(t) -> dict:
    name, desc, props, required = t
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


class ChatGen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.text = TextGen(self.rng)
        self.products = [w.capitalize() for w in _synthetic_words(self.rng, 12)]
        self.system_pool = [self._system_prompt(i) for i in range(40)]
        self.system_cum = list(itertools.accumulate(1.0 / (i + 1) ** 1.1 for i in range(40)))

    def _system_prompt(self, i: int | None = None) -> str:
        rng, t = self.rng, self.text
        persona = rng.choice(_PERSONAS).format(x=rng.choice(self.products))
        target = int(min(1500, max(80, rng.lognormvariate(math.log(280), 0.8))))
        s = f"You are {persona}."
        while len(s) < target:
            r = rng.random()
            if r < 0.5:
                s += " " + t.sentence()
            elif r < 0.8:
                s += "\n- " + t.sentence()
            else:
                lang = rng.choice(["English", "the user’s language", "plain language"])
                s += f"\nAlways answer in {lang}."
        return s

    def _lengths(self) -> tuple[int, int]:
        """Target characters of one user message and one assistant answer (log-normal)."""
        rng = self.rng
        user = int(min(12000, max(15, rng.lognormvariate(math.log(90), 1.0))))
        asst = int(min(20000, max(20, rng.lognormvariate(math.log(260), 0.85))))
        return user, asst

    def example(self) -> tuple[dict, bool]:
        """One valid example and whether it uses tools."""
        rng, t = self.rng, self.text
        messages: list[dict] = []
        r = rng.random()
        if r < 0.77:
            messages.append(
                {
                    "role": "system",
                    "content": rng.choices(self.system_pool, cum_weights=self.system_cum)[0],
                }
            )
        elif r < 0.92:
            messages.append({"role": "system", "content": self._system_prompt()})
        if rng.random() < TOOL_RATE:
            return self._tool_example(messages), True
        turns = rng.choices((1, 2, 3, 4), weights=(0.42, 0.30, 0.17, 0.11))[0]
        for i in range(turns):
            u, a = self._lengths()
            messages.append({"role": "user", "content": t.user_text(u)})
            msg = {"role": "assistant", "content": t.markdown(a, code_rate=0.12)}
            if i < turns - 1 and rng.random() < 0.03:
                msg["weight"] = 0
            messages.append(msg)
        obj: dict = {"messages": messages}
        return obj, False

    def _tool_example(self, messages: list[dict]) -> dict:
        rng, t = self.rng, self.text
        tools = rng.sample(_TOOLS, rng.randint(1, 3))
        called = rng.choice(tools)
        name, _, props, required = called
        args: dict = {}
        for key in props:
            if key in required or rng.random() < 0.5:
                spec = props[key]
                if "enum" in spec:
                    args[key] = rng.choice(spec["enum"])
                elif spec["type"] == "integer":
                    args[key] = rng.randint(1, 50)
                elif spec["type"] == "number":
                    args[key] = round(rng.uniform(1, 500), 2)
                elif spec["type"] == "array":
                    args[key] = t.words(2)
                else:
                    args[key] = " ".join(t.words(rng.randint(1, 4)))
        call_id = "call_" + "".join(rng.choices(string.ascii_letters + string.digits, k=24))
        messages.append({"role": "user", "content": t.user_text(self._lengths()[0])})
        messages.append(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": name,
                            "arguments": json.dumps(args, ensure_ascii=False),
                        },
                    }
                ],
            }
        )
        result = {
            "ok": True,
            "items": [{t.identifier(): t.number()} for _ in range(rng.randint(1, 5))],
        }
        messages.append(
            {
                "role": "tool",
                "tool_call_id": call_id,
                "content": json.dumps(result, ensure_ascii=False),
            }
        )
        messages.append(
            {"role": "assistant", "content": t.markdown(self._lengths()[1] // 2, code_rate=0.0)}
        )
        return {"messages": messages, "tools": [_tool_def(x) for x in tools]}


def _without_tools(obj: dict) -> dict:
    msgs = [m for m in obj["messages"] if m["role"] != "tool" and "tool_calls" not in m]
    return {"messages": msgs}


def _dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _faulty(obj: dict, kind: str, rng: random.Random) -> str:
    if kind == "trailing_comma":
        line = _dumps(obj)
        if rng.random() < 0.5:
            return line[:-1] + ",}"  # {"messages": [...],}
        return line[:-2] + ",]}" if line.endswith("]}") else line[:-1] + ",}"  # [..., ]
    msgs = [dict(m) for m in obj["messages"]]
    if kind == "wrong_role":
        candidates = [i for i, m in enumerate(msgs) if m["role"] in ("user", "assistant")]
        i = rng.choice(candidates)
        msgs[i]["role"] = rng.choice(("human", "bot", "Assistant", "gpt"))
    else:  # missing_assistant: cut the conversation after its first user message
        first_user = next(i for i, m in enumerate(msgs) if m["role"] == "user")
        msgs = msgs[: first_user + 1]
    return _dumps({**obj, "messages": msgs})


def _edit_line(line: str, rng: random.Random, text: TextGen) -> str | None:
    """A slightly rewritten, still valid JSON line; None when the line is not valid JSON."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    msgs = obj.get("messages")
    if not isinstance(msgs, list):
        return None
    users = [
        m
        for m in msgs
        if isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") == "user"
    ]
    if not users:
        return None
    m = rng.choice(users)
    before = m["content"]
    words = before.split(" ")
    if len(words) > 3 and rng.random() < 0.5:
        words[rng.randrange(len(words))] = text.words(1)[0]
        m["content"] = " ".join(words)
    if m["content"] == before:  # not edited yet, or the new word was the old one
        m["content"] = before + " " + text.sentence()
    return _dumps(obj)


def generate(
    n: int, out_dir: Path, seed: int = 1234, name: str | None = None, force: bool = False
) -> dict:
    """Write NAME.jsonl, NAME.clean.jsonl, NAME.edit1pct.jsonl and NAME.meta.json.

    Returns the meta (parameters, counts, sizes, paths)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or f"chat-{n}"
    paths = {
        k: out_dir / f"{name}{suffix}"
        for k, suffix in (
            ("file", ".jsonl"),
            ("clean", ".clean.jsonl"),
            ("edited", ".edit1pct.jsonl"),
        )
    }
    meta_path = out_dir / f"{name}.meta.json"
    want = {"generator_version": GENERATOR_VERSION, "seed": seed, "examples": n}
    if not force and meta_path.exists() and all(p.exists() for p in paths.values()):
        try:
            meta = json.loads(meta_path.read_text())
            if all(meta.get(k) == v for k, v in want.items()) and all(
                paths[k].stat().st_size == meta["bytes"][k] for k in paths
            ):
                return meta
        except (ValueError, KeyError, OSError):
            pass

    gen = ChatGen(seed)
    fault_rng = random.Random(seed * 7919 + 1)
    edit_rng = random.Random(seed * 104729 + 2)
    edit_text = TextGen(random.Random(seed * 31 + 3))
    kinds = ("trailing_comma", "wrong_role", "missing_assistant")
    counts = {
        "examples": n,
        "tool_examples": 0,
        "edited_lines": 0,
        **{f"fault_{k}": 0 for k in kinds},
    }
    tmp = {k: p.with_suffix(p.suffix + ".tmp") for k, p in paths.items()}
    with (
        open(tmp["file"], "w", encoding="utf-8") as f_main,
        open(tmp["clean"], "w", encoding="utf-8") as f_clean,
        open(tmp["edited"], "w", encoding="utf-8") as f_edit,
    ):
        for _ in range(n):
            obj, tools = gen.example()
            counts["tool_examples"] += tools
            line = _dumps(obj)
            if fault_rng.random() < FAULT_RATE:
                kind = kinds[fault_rng.randrange(3)]
                counts[f"fault_{kind}"] += 1
                line = _faulty(obj, kind, fault_rng)
            f_main.write(line + "\n")
            f_clean.write((_dumps(_without_tools(obj)) if tools else _dumps(obj)) + "\n")
            edited = (
                _edit_line(line, edit_rng, edit_text) if edit_rng.random() < EDIT_RATE else None
            )
            if edited is not None:
                counts["edited_lines"] += 1
            f_edit.write((edited or line) + "\n")
    for k in paths:
        os.replace(tmp[k], paths[k])
    meta = {
        **want,
        **counts,
        "bytes": {k: paths[k].stat().st_size for k in paths},
        "paths": {k: str(p) for k, p in paths.items()},
    }
    meta["avg_bytes_per_example"] = round(meta["bytes"]["file"] / n)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="number of examples")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--force", action="store_true", help="regenerate even if the files exist")
    a = ap.parse_args()
    print(json.dumps(generate(a.n, a.out, a.seed, force=a.force), indent=2))


if __name__ == "__main__":
    main()
