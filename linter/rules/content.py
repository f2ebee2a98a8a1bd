"""TLCxxx: what the text says. Private data (TLC1xx), its language (TLC2xx), degenerate
repetition (TLC3xx), refusals (TLC4xx), broken text (TLC5xx).

Each finding points at the offending characters inside the string value (`Violation.within`).
The recognisers live in their own modules (`pii`, `secret_scan`, `langid`, `repetition`,
`refusals`); `prepare()` loads them once per process, before the CLI's workers fork.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import content_scan, pii, refusals, repetition
from ..content_scan import CONTROL, EMPTY, scan, scan_repeated
from ..example import Example, Turn
from ..findings import Severity
from ..registry import declare, rule
from ..violation import ReplaceValue, ReplaceWithin, Violation

# the rules' texts: every turn's text whatever its role (a tool's output can leak an address too)
ANSWER = "assistant"


def _where(turn: Turn) -> str:
    if turn.message is None and turn.path == ():
        return f"`{turn.content_path[0]}`"
    return f"{turn.role or 'message'} text"


def _texts(ex: Example) -> list[tuple[Turn, tuple, str]]:
    return [t for t in ex.texts() if t[2]]


def _scanned(ex: Example) -> list:
    """(turn, path, text, signs, private-data kinds it may hold) for every text with a sign that
    a content rule acts on (`content_scan`, `pii.possible`), scanned once for all the rules. Most
    texts have none, and the rules look no further at them."""
    if ex._scanned is None:
        out = []
        for turn, at, text in _texts(ex):
            hits = scan(text) if turn.role in _UNIQUE else scan_repeated(text)
            if hits is EMPTY:
                continue
            kinds = pii.possible(text, hits)
            if kinds or hits.names or hits.mojibake or hits.broken:
                out.append((turn, at, text, hits, kinds))
        ex._scanned = out
    return ex._scanned


_UNIQUE = frozenset({"user", "assistant"})  # the roles whose texts rarely repeat (`scan_repeated`)


# -- TLC1xx private data -------------------------------------------------------------------------

PRIVATE_DOC = """

**Why is this bad?** A fine-tune memorises what it is shown: private data in an answer can come
back out of the model, to anyone. In an assistant answer (what the model learns to say) the
finding is a warning; in a user, system or tool message, or a `prompt`, it is info (the model
reads it but is not trained to write it).

**Fix safety:** unsafe. The fix replaces the value with a typed placeholder (`<{placeholder}_1>`),
the same placeholder for the same value everywhere in the example, a new number for each other
value; it changes what the example teaches, so it is offered only with `--unsafe-fixes`.
"""


def _private(ex: Example, kind: str) -> Iterator[Violation]:
    numbers: dict[str, int] = {}
    label, placeholder = pii.LABELS[kind], pii.PLACEHOLDERS[kind]
    if kind in pii.SIGNED:  # the texts whose signs allow the kind
        texts = ((turn, at, text, hits) for turn, at, text, hits, kinds in _scanned(ex) if kind in kinds)
    else:  # a phone number has no sign: every text is searched
        texts = ((turn, at, text, None) for turn, at, text in _texts(ex))
    for turn, at, text, hits in texts:
        for m in pii.find(kind, text, hits, repeated=turn.role not in _UNIQUE):
            n = numbers.setdefault(m.value, len(numbers) + 1)
            token = f"<{placeholder}_{n}>"
            sev = None if turn.role == ANSWER else Severity.INFO
            yield Violation(f"{label} in {_where(turn)}: {_show(kind, m.value)}", at, within=(m.start, m.end),
                            severity=sev, fix=ReplaceWithin(at, m.start, m.end, token,
                                                            f"Replace the {label} with {token}", safe=False))


def _show(kind: str, value: str) -> str:
    """How a finding names the value: a card number and an IBAN show their last 4 digits only."""
    if kind in ("card", "iban"):
        return f"…{value.replace(' ', '').replace('-', '')[-4:]}"
    return repr(value)


def _private_rule(code: str, name: str, kind: str, what: str, default: bool = True) -> None:
    def check(ex: Example) -> Iterator[Violation]:
        return _private(ex, kind)

    check.__doc__ = what + PRIVATE_DOC.replace("{placeholder}", pii.PLACEHOLDERS[kind])
    check.__name__ = name.replace("-", "_")
    rule(code, name, "warning", fixable=True, default=default)(check)


_private_rule("TLC101", "email-address", "email", """An e-mail address in a message or field, found with
Presidio's e-mail pattern. Addresses at the documentation domains (`example.com`, `.test`,
RFC 2606) are left alone.""")
_private_rule("TLC102", "phone-number", "phone", """A phone number in a message or field, found and
validated by libphonenumber (the `phonenumbers` package, as Presidio's phone recogniser uses it),
in international form or in the national form of the US, UK, Germany, France, India, Brazil, Spain
or Italy. The fictional 555-01xx numbers are left alone.

Off by default: numbers in worked answers (arithmetic, dates, quantities) are often valid phone
numbers too. Turn it on with `select = ["TLC102"]`.""", default=False)
_private_rule("TLC103", "payment-card-number", "card", """A payment card number in a message or field:
13 to 19 digits (in groups separated by spaces or dashes) with a card network's prefix and a
valid Luhn check digit (`python-stdnum`). The networks' published test numbers
(`4111 1111 1111 1111`) are left alone; the message shows the last 4 digits only.""")
_private_rule("TLC104", "iban", "iban", """An IBAN (international bank account number) in a message or
field, with a valid ISO 7064 check (`python-stdnum`, which also checks the country's length and
format); the message shows the last 4 characters only.""")
_private_rule("TLC105", "ip-address", "ip", """A public IPv4 or IPv6 address in a message or field.
Private (`192.168.x.x`, `10.x.x.x`), loopback, link-local, documentation (`203.0.113.x`,
`2001:db8::`) and other reserved addresses are left alone: they are nobody's.""")


@rule("TLC106", "secret", "error")
def secret(ex: Example) -> Iterator[Violation]:
    """An API key, token or private key in a message or field: cloud providers (AWS, Azure, IBM),
    GitHub, GitLab, Slack, Stripe, SendGrid, npm, PyPI, OpenAI- and Anthropic-style keys, Google
    API keys, Hugging Face tokens, JWTs, private key blocks, credentials in URLs, and
    high-entropy values next to words like `api_key`, `secret`, `token` or `password`; found
    with detect-secrets' detectors.

    **Why is this bad?** A key in training data is a leaked key: the model can repeat it, and the
    dataset is shared with whoever trains on it. Revoke the key, then remove it.

    The message shows the secret masked (`sk-…a1b2`): tunelint never prints a secret in full,
    nor keeps it in its cache. No fix is offered: the replacement is the author's call (and the
    key must be revoked anyway).
    """
    from ..secret_scan import find_secrets

    for turn, at, text, hits, _ in _scanned(ex):
        for s in find_secrets(text, hits.names) if hits.names else ():
            yield Violation(f"{s.kind} in {_where(turn)}: {s.masked(text)}", at, within=(s.start, s.end))


# -- TLC2xx language -----------------------------------------------------------------------------

declare("TLC201", "unexpected-language", "warning", """
An example (its assistant answers, else its other text) is in a language other than the
dataset's: one of `languages` (ISO 639-1 codes, such as `languages = ["en", "de"]`) when set, else
the language most of the file's examples are in. The language is identified by lingua, offline;
texts of fewer than 40 letters, and code, are not judged.

**Why is this bad?** A stray language in a fine-tuning set is usually a mistake (a translation
step that failed, a scraped page in another language), and it teaches the model to answer in
that language now and then.

Off by default: multilingual datasets are common, and it needs the `lang` extra
(`pip install 'tunelint[lang]'`). Turn it on with `select = ["TLC2"]`.
""", scope="dataset", default=False)


@rule("TLC202", "answer-language-mismatch", "warning", formats={"chat", "preference", "prompt_completion",
                                                                  "alpaca", "sharegpt"}, default=False)
def answer_language_mismatch(ex: Example) -> Iterator[Violation]:
    """An assistant answer is in another language than the user message it answers (identified
    by lingua, offline; texts of fewer than 40 letters, and code, are not judged).

    **Why is this bad?** The model learns to switch language on the user: asked in German, it
    answers in English. Translation examples ("Translate into French: ...") are the exception,
    and why the rule is off by default; it also needs the `lang` extra
    (`pip install 'tunelint[lang]'`). Turn it on with `select = ["TLC2"]`.
    """
    from ..langid import language_of, name_of

    extra = tuple(ex.options.get("languages") or ())
    question = None
    for turn in ex.turns():
        text = "".join(t for _, t in turn.texts())
        if turn.role == "user":
            question = (language_of(text, extra), turn)
        elif turn.role == ANSWER and question and question[0]:
            lang = language_of(text, extra)
            if lang and lang != question[0]:
                at = turn.content_path
                yield Violation(f"the answer is in {name_of(lang)}, the question it answers in "
                                f"{name_of(question[0])}", at)


def languages_outside(ex: Example, allowed: tuple[str, ...]) -> Iterator[Violation]:
    """TLC201 with `languages` configured: each assistant answer (else each text) in another."""
    from ..langid import language_of, name_of

    turns = [t for t in ex.turns() if t.role == ANSWER] or ex.turns()
    for turn in turns:
        for at, text in turn.texts():
            lang = language_of(text, allowed)
            if lang and lang not in allowed:
                yield Violation(f"{_where(turn)} is in {name_of(lang)}; the dataset's languages are "
                                f"{', '.join(name_of(c) for c in allowed)} (`languages`)", at, code="TLC201")


def example_language(ex: Example, extra: tuple[str, ...] = ()) -> str:
    """The example's language, for the file's dominant one: its assistant answers' (else all its
    text's); "" when undecided."""
    from ..langid import language_of

    turns = [t for t in ex.turns() if t.role == ANSWER] or ex.turns()
    text = "\n".join(t for turn in turns for _, t in turn.texts())
    return language_of(text, extra) or ""


# -- TLC3xx repetition ---------------------------------------------------------------------------

@rule("TLC301", "degenerate-repetition", "warning", formats={"chat", "preference", "prompt_completion", "alpaca",
                                                               "sharegpt"}, default=False)
def degenerate_repetition(ex: Example) -> Iterator[Violation]:
    """An assistant answer repeats itself: more than 30% of its lines or paragraphs are
    duplicates (or they hold more than 20% of its characters), its most repeated 2-, 3- or
    4-word sequence covers more than 20%, 18% or 16% of it, or its repeated 5- to 10-word
    sequences more than 15% to 10%: the thresholds of Gopher's repetition filter (Rae and
    others, 2021) as datatrove applies them. Answers under 50 words are not judged. The finding spans the
    repeated part.

    **Why is this bad?** These are the loops a model learns to produce: the same sentence over
    and over until the token limit.

    Off by default: Gopher's thresholds were made for web pages, and worked answers (arithmetic
    that repeats "hours a week", step-by-step reasoning) cross them without looping: 61 of 449
    GSM8K answers and 100 of 284 Orca answers did. Turn it on with `select = ["TLC301"]`.
    """
    for turn in ex.turns():
        if turn.role != ANSWER:
            continue
        for at, text in turn.texts():
            r = repetition.find(text)
            if r:
                yield Violation(f"repetition in {_where(turn)}: {r.measure} make {r.share:.0%} of it "
                                f"(Gopher's limit {r.threshold:.0%})", at, within=(r.start, r.end))


# -- TLC4xx refusals -----------------------------------------------------------------------------

REFUSAL_SHARE = 0.02  # TLC402: more than this share of the examples with an answer refuse


@rule("TLC401", "refusal-or-boilerplate", "warning", formats={"chat", "preference", "prompt_completion", "alpaca",
                                                                "sharegpt"})
def refusal_or_boilerplate(ex: Example) -> Iterator[Violation]:
    """An assistant answer refuses ("I'm sorry, but I can't", "I cannot assist with") or talks
    about itself ("As an AI language model", knowledge-cutoff disclaimers), in English, German,
    French, Spanish, Italian, Portuguese, Dutch, Russian, Chinese or Japanese.

    **Why is this bad?** Copied from another model's output, these phrases teach the fine-tune
    to refuse and to disclaim. A refusal that is the point of the example (safety data) is fine:
    ignore the rule for that file (`overrides`), or baseline the line. In a preference example,
    only the preferred output counts.
    """
    for turn, at, text in ex.texts():
        if turn.role != ANSWER or turn.path[:1] == ("non_preferred_output",):
            continue
        hit = refusals.find(text)
        if hit:
            kind, phrase, s, e = hit
            what = "a refusal" if kind == "refusal" else "assistant boilerplate"
            yield Violation(f"{what} in {_where(turn)}: {phrase!r}", at, within=(s, e))


declare("TLC402", "many-refusals", "warning", f"""
More than {REFUSAL_SHARE:.0%} of the file's examples have an answer that refuses or talks about
itself (TLC401's phrases). Reported once, on the first such example.

**Why is this bad?** A few refusals are data; a share of them is a behaviour the fine-tune
learns: "As an AI language model" in 3% of the answers teaches the model to refuse.
""", scope="dataset")


# -- TLC5xx broken text --------------------------------------------------------------------------

def _config():
    from ftfy import TextFixerConfig

    # encoding repairs only: no quote uncurling, width or line-break changes, no normalisation
    return TextFixerConfig(unescape_html=False, remove_terminal_escapes=False, fix_latin_ligatures=False,
                           fix_character_width=False, uncurl_quotes=False, fix_line_breaks=False,
                           remove_control_chars=False, normalization=None, explain=True)


_FTFY = []


def _ftfy_config():
    if not _FTFY:
        _FTFY.append(_config())
    return _FTFY[0]


def _changed(a: str, b: str) -> tuple[int, int]:
    """Characters [start, end) of `a` that differ from `b` (common prefix and suffix left out)."""
    i = 0
    n = min(len(a), len(b))
    while i < n and a[i] == b[i]:
        i += 1
    j = 0
    while j < n - i and a[-1 - j] == b[-1 - j]:
        j += 1
    return i, max(i + 1, len(a) - j)


@rule("TLC501", "mojibake", "warning", fixable=True)
def mojibake(ex: Example) -> Iterator[Violation]:
    """Text that was decoded with the wrong encoding: `cafÃ©` for `café`, `doesnâ€™t` for
    `doesn’t`; found and repaired by ftfy. The finding spans the garbled characters.

    **Why is this bad?** The model learns to write the garbage.

    **Fix safety:** ftfy's repair is safe when it is plainly undoing a wrong decoding (encode
    with one codec, decode as UTF-8) and leaves nothing ftfy still finds wrong; a repair by
    ftfy's other heuristics is offered as unsafe.
    """
    line = ex.line
    if line.isascii() and ("\\u" not in line if isinstance(line, str) else b"\\u" not in line):
        return  # no character outside ASCII, written or escaped: nothing to garble
    for turn, at, text, hits, _ in _scanned(ex):
        if not hits.mojibake:
            continue
        import ftfy  # loaded only for a text with a sign of mojibake

        if not ftfy.is_bad(text):
            continue
        fixed, steps = ftfy.fix_and_explain(text, _ftfy_config())
        if fixed == text:
            continue
        s, e = _changed(text, fixed)
        repaired = fixed[s : len(fixed) - (len(text) - e)]
        plain = all(op in ("encode", "decode") for op, _ in steps or ())
        safe = plain and not ftfy.is_bad(fixed) and ftfy.fix_text(fixed, _ftfy_config()) == fixed
        yield Violation(f"mojibake in {_where(turn)}: {text[s:e][:40]!r}, ftfy reads {repaired[:40]!r}", at,
                        within=(s, e),
                        fix=ReplaceWithin(at, s, e, repaired, "Repair the text's encoding (ftfy)", safe=safe))


_BROKEN = {"\ufffd": "a replacement character (U+FFFD: a character lost in decoding)"}


@rule("TLC502", "broken-characters", "warning", fixable=True)
def broken_characters(ex: Example) -> Iterator[Violation]:
    """Replacement characters (`�`, U+FFFD: a character lost when the text was decoded) or control
    characters (other than tab, line feed and carriage return) in a message or field.

    **Why is this bad?** The lost characters cannot be recovered and the model learns to emit
    `�`; control characters are invisible noise that tokenizers turn into rare tokens.

    **Fix safety:** removing control characters is safe; a replacement character has no fix (what
    it stood for is lost).
    """
    for turn, at, text, hits, _ in _scanned(ex):
        if not hits.broken:
            continue
        i = text.find("\ufffd")
        if i != -1:
            yield Violation(f"{_BROKEN[chr(0xfffd)]} in {_where(turn)}", at, within=(i, i + 1))
            continue
        bad = [k for k, c in enumerate(text) if c in CONTROL]
        if bad:
            clean = "".join(c for c in text if c not in CONTROL)
            yield Violation(f"{len(bad)} control character{'s' if len(bad) > 1 else ''} in {_where(turn)} "
                            f"(first: U+{ord(text[bad[0]]):04X})", at, within=(bad[0], bad[0] + 1),
                            fix=ReplaceValue(at, clean, "Remove the control characters"))


def prepare(codes: set[str]) -> None:
    """Load now what the enabled rules (`codes`) use on every text (in the CLI, before its
    workers fork, so that they share it): the shared scan's automaton, the refusal phrases, the
    phone matcher, the language models (`Analyzer`). What runs only on a text with a sign of its
    kind loads on the first such text: detect-secrets, ftfy, the card and IBAN checks. Most
    datasets have none, and loading them before the fork cost every run ~0.15 s and ~10 MB."""
    content_scan.prepare()
    if "TLC401" in codes:
        refusals.prepare()
    if "TLC102" in codes:
        pii.prepare()
