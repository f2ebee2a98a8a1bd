"""Columns of a piece of a JSON string value: the decoded text's offsets mapped back to the
line, through the string's escapes (`\\n`, `\\u00e9`, surrogate pairs written `\\ud83d\\ude00`).

Content rules find their text in the decoded string (`Example.turns()`); a finding points at the
offending characters in the line, not at the whole value. Runs only on lines that have such a
finding, so it is written for clarity.
"""

from __future__ import annotations


def raw_offsets(line: str, start: int, end: int) -> list[int]:
    """For the JSON string token at columns [start, end) of `line` (quotes included): the column
    where each decoded code point starts, and one more entry, the column of the closing quote.
    Entry i is where the decoded text's character i begins."""
    out: list[int] = []
    j, stop = start + 1, end - 1
    while j < stop:
        out.append(j)
        c = line[j]
        if c != "\\":
            j += 1
            continue
        if line[j + 1] != "u":
            j += 2
            continue
        cp = int(line[j + 2 : j + 6], 16)
        j += 6
        # a high surrogate escape followed by a low one is one code point (as JSON parsers join them)
        if 0xD800 <= cp < 0xDC00 and line.startswith("\\u", j) and j + 6 <= stop:
            low = int(line[j + 2 : j + 6], 16)
            if 0xDC00 <= low < 0xE000:
                j += 6
    out.append(stop)
    return out


def columns_within(line: str, token: tuple[int, int], within: tuple[int, int]) -> tuple[int, int]:
    """Columns [start, end) of `line` that hold characters [within) of the string at `token`."""
    offsets = raw_offsets(line, *token)
    last = len(offsets) - 1
    a, b = min(max(within[0], 0), last), min(max(within[1], 0), last)
    return offsets[a], offsets[max(a, b)]
