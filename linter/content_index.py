"""The content rules that need the whole file: TLC201 (an example in another language than the
file's dominant one, when `languages` is not set) and TLC402 (too many refusals). Fed one line
result at a time, like the other dataset indexes (`indexes.py`)."""

from __future__ import annotations

from collections import Counter

from .results import IndexFinding, LineResult
from .rules.content import REFUSAL_SHARE

DOMINANT_MIN = 0.5  # the dominant language: the one of more than half the examples whose language is decided
MIN_REFUSALS = 2  # one refusal is an example, not a share
MIN_DECIDED = 5  # fewer decided examples: no dominant language, no TLC201


def _same_line(path: str, line: int) -> int:
    return line


class ContentIndex:
    def __init__(self, line_of=None) -> None:
        self.line_of = line_of or _same_line
        self.languages: dict[str, dict[int, str]] = {}
        self.refusals: dict[str, dict[int, tuple[int, int]]] = {}  # line → columns of its first TLC401
        self.answers: dict[str, set[int]] = {}  # examples

    def add(self, path: str, line: int, text: str, result: LineResult) -> None:
        self.remove(path, line)
        if result.language:
            self.languages.setdefault(path, {})[line] = result.language
        if result.is_example:
            self.answers.setdefault(path, set()).add(line)
        for f in result.findings:
            if f.code == "TLC401":
                self.refusals.setdefault(path, {})[line] = (f.start, f.end)
                break

    def remove(self, path: str, line: int) -> None:
        self.languages.get(path, {}).pop(line, None)
        self.refusals.get(path, {}).pop(line, None)
        self.answers.get(path, set()).discard(line)

    def findings(self) -> list[IndexFinding]:
        from .langid import name_of

        out = []
        for path, by_line in self.languages.items():
            counts = Counter(by_line.values())
            if sum(counts.values()) < MIN_DECIDED:
                continue
            main, n = counts.most_common(1)[0]
            if n / sum(counts.values()) <= DOMINANT_MIN:
                continue
            share = n / sum(counts.values())
            for line, lang in by_line.items():
                if lang != main:
                    out.append(IndexFinding(path, self.line_of(path, line), "TLC201",
                                            f"the example is in {name_of(lang)}; {share:.0%} of the file's examples "
                                            f"are in {name_of(main)} (set `languages` if both belong)"))
        for path, lines in self.refusals.items():
            total = len(self.answers.get(path, ()))
            if total and len(lines) >= MIN_REFUSALS and len(lines) / total > REFUSAL_SHARE:
                first = min(lines, key=lambda ln: self.line_of(path, ln))
                out.append(IndexFinding(path, self.line_of(path, first), "TLC402",
                                        f"{len(lines)} of {total} examples ({len(lines) / total:.1%}) refuse or talk "
                                        f"about themselves (TLC401), more than {REFUSAL_SHARE:.0%}: the fine-tune "
                                        "learns to refuse", columns=lines[first]))
        return sorted(out, key=lambda f: (f.path, f.line))
