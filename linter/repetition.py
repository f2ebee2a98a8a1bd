"""Degenerate repetition: the share of a text in duplicate lines, duplicate paragraphs, its most
repeated n-gram and its repeated n-grams, with the thresholds of Gopher's repetition filter
(Rae et al. 2021, table A1) as datatrove's `GopherRepetitionFilter` applies them.

The text's words are split on whitespace (datatrove uses a word tokenizer per language; for
repetition, whitespace words find the same loops in every script that spaces its words). Each
measure also gives the span of the repeated part: from the first repetition of the repeated
line, paragraph or n-gram to the end of its last one.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

DUP_LINE_FRAC = 0.30  # duplicate lines / lines
DUP_PARA_FRAC = 0.30  # duplicate paragraphs / paragraphs
DUP_LINE_CHAR_FRAC = 0.20  # characters in duplicate lines / characters
DUP_PARA_CHAR_FRAC = 0.20
TOP_N_GRAMS = ((2, 0.20), (3, 0.18), (4, 0.16))  # characters in the top n-gram's occurrences / characters
DUP_N_GRAMS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))  # in repeated n-grams
MIN_WORDS = 50  # shorter texts are not judged (a short answer's "Yes. Yes." is not a loop)
_PARA = re.compile(r"\n{2,}")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Repetition:
    measure: str  # what crossed its threshold, in words
    share: float
    threshold: float
    start: int  # the repeated part: characters of the text
    end: int


def _dup_units(text: str, units: list[tuple[int, int]], frac: float, char_frac: float, what: str):
    seen: dict[str, int] = {}
    dups = dup_chars = 0
    first_dup = last_end = -1
    for s, e in units:
        u = text[s:e]
        if not u.strip():
            continue
        if u in seen:
            dups += 1
            dup_chars += e - s
            if first_dup < 0:
                first_dup = seen[u]
            last_end = e
        else:
            seen[u] = s
    n = sum(1 for s, e in units if text[s:e].strip())
    if not n or not dups:
        return None
    if dups / n > frac:
        return Repetition(f"duplicate {what}s", dups / n, frac, first_dup, last_end)
    if dup_chars / len(text) > char_frac:
        return Repetition(f"characters in duplicate {what}s", dup_chars / len(text), char_frac, first_dup, last_end)
    return None


def _spans(text: str, sep: re.Pattern | str) -> list[tuple[int, int]]:
    out, i = [], 0
    for m in (sep.finditer(text) if isinstance(sep, re.Pattern) else re.finditer(re.escape(sep), text)):
        out.append((i, m.start()))
        i = m.end()
    out.append((i, len(text)))
    return out


def find(text: str) -> Repetition | None:
    """The first Gopher measure over its threshold, in Gopher's order; None for a text that
    passes them all (or has fewer than MIN_WORDS words)."""
    words = text.split()
    if len(words) < MIN_WORDS:
        return None
    found = (_dup_units(text, _spans(text.strip(), _PARA), DUP_PARA_FRAC, DUP_PARA_CHAR_FRAC, "paragraph")
             or _dup_units(text, _spans(text, "\n"), DUP_LINE_FRAC, DUP_LINE_CHAR_FRAC, "line"))
    if found:
        return found
    # n-gram measures: characters of words (and the spaces inside each n-gram), as datatrove counts them
    n_chars = len(text)
    starts = None
    for n, frac in TOP_N_GRAMS:
        grams = Counter(zip(*(words[i:] for i in range(n)), strict=False))
        (top, count), = grams.most_common(1)
        if count < 2:
            continue
        share = (sum(map(len, top)) + n - 1) * count / n_chars
        if share > frac:
            starts = starts or [m.start() for m in _WORD.finditer(text)]
            idx = [i for i in range(len(words) - n + 1) if tuple(words[i : i + n]) == top]
            end = starts[idx[-1] + n - 1] + len(words[idx[-1] + n - 1])
            return Repetition(f"the most repeated {n}-word sequence ({' '.join(top)!r})", share, frac,
                              starts[idx[1]], end)
    for n, frac in DUP_N_GRAMS:
        seen: set[tuple] = set()
        repeated = 0
        first = last = -1
        i = 0
        while i < len(words) - n + 1:
            g = tuple(words[i : i + n])
            if g in seen:
                repeated += sum(map(len, g)) + n - 1
                first = i if first < 0 else first
                last = i + n - 1
                i += n
            else:
                seen.add(g)
                i += 1
        if repeated / n_chars > frac:
            starts = starts or [m.start() for m in _WORD.finditer(text)]
            return Repetition(f"characters in repeated {n}-word sequences", repeated / n_chars, frac,
                              starts[first], starts[last] + len(words[last]))
    return None
