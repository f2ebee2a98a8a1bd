"""One pass over a text for everything the content rules look for first: the literals of the
secret detectors and their keywords, runs of four digits (card numbers, IBANs), a digit, a dot
and a digit (IPv4 addresses), colons (IPv6), an "@" (e-mail addresses), the two-character signs of mojibake, and
control and replacement characters (broken text).
One Aho-Corasick automaton (`ahocorasick-rs`) finds them all; each rule then runs its
recogniser only on the texts, and at the places, where its sign is. Five separate passes cost
about twice as much on the benchmark's data (and a separate search of each line for the broken
characters cost as much as this whole pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# the characters TLC502 reports: control characters other than tab, line feed and carriage return,
# and U+FFFD (a character lost in decoding)
CONTROL = frozenset(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127))
BROKEN = CONTROL | {"\ufffd"}


@dataclass(slots=True)
class Hits:
    names: set[str] = field(default_factory=set)  # secret detectors (secret_scan.TRIGGERS) and "keyword"
    fours: list[int] = field(default_factory=list)  # where a run of 4 digits starts
    dotted: list[int] = field(default_factory=list)  # where a digit-dot-digit starts
    colons: list[int] = field(default_factory=list)  # where each ":" is (IPv6 addresses)
    at: bool = False
    mojibake: bool = False
    broken: bool = False  # a control character (other than tab, LF, CR) or U+FFFD

    def adjacent_fours(self) -> bool:
        """Two runs of 4 digits one after the other (at most one separator between): every card
        number and IBAN has them (`4539 1488`, `37040044`); a year or an order number has not."""
        f = self.fours
        return len(f) > 1 and any(b - a <= 5 for a, b in zip(f, f[1:], strict=False))

    def runs_of_four(self) -> int:
        """Runs of 4 digits that do not overlap: a card number has 3 or more, an IBAN 2 or more."""
        n, last = 0, -4
        for s in self.fours:
            if s >= last + 4:
                n, last = n + 1, s
        return n


def _mojibake_pairs() -> set[str]:
    """The two characters a UTF-8 lead byte and a continuation byte become when read as
    Latin-1 or Windows-1252 (`Ã©`, `â€`): every mojibake ftfy repairs holds one."""
    def chars(b: int) -> set[str]:
        out = {bytes([b]).decode("latin-1")}
        try:
            out.add(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            pass
        return out

    return {a + c for lead in range(0xC2, 0xF5) for cont in range(0x80, 0xC0) for a in chars(lead) for c in chars(cont)}


_BUILT: list = []  # the automaton and each pattern's owner, once built


def _automaton():
    """The automaton, built on first use if `prepare` has not built it."""
    if not _BUILT:
        _BUILT.append(_build(dfa=False))
    return _BUILT[0]


def prepare() -> None:
    """Build the automaton now, as a DFA, unless this process has built it already: for a
    process about to scan many texts (the CLI's, before its workers fork and share it). A DFA
    scans twice as fast (0.11 against 0.21 s per 10k lines' texts) but takes 19 MB instead of 3
    and 0.11 s to build instead of 0.03: a process that scans a few texts (the language server's
    edits, a warm run's side worker) builds the default automaton on first use instead."""
    if not _BUILT:
        _BUILT.append(_build(dfa=True))


def _build(dfa: bool):
    import ahocorasick_rs

    from .secret_scan import KEYWORDS, TRIGGERS

    owner: dict[str, object] = {}
    for name, literals in TRIGGERS.items():
        for lit in literals:
            owner.setdefault(lit, name)
    for kw in KEYWORDS:
        owner.setdefault(kw, "keyword")
    for i in range(10000):
        owner.setdefault(f"{i:04d}", 4)
    for a in range(10):
        for b in range(10):
            owner.setdefault(f"{a}.{b}", ".")
    owner.setdefault("@", "@")
    owner.setdefault(":", ":")
    for pair in _mojibake_pairs():
        owner.setdefault(pair, "moji")
    for ch in BROKEN:
        owner.setdefault(ch, "broken")
    patterns = list(owner)
    impl = ahocorasick_rs.Implementation.DFA if dfa else None
    return ahocorasick_rs.AhoCorasick(patterns, implementation=impl), [owner[p] for p in patterns]


MEMO_ENTRIES = 4096  # entries a `remember` memo keeps: for the system prompts a dataset repeats
_memo: dict[str, Hits] = {}


def remember(memo: dict, key, make):
    """`memo[key]`, made with `make()` the first time; the memo is emptied past MEMO_ENTRIES
    (it is for the texts a dataset repeats, not a corpus)."""
    value = memo.get(key)
    if value is None:
        if len(memo) > MEMO_ENTRIES:
            memo.clear()
        value = memo[key] = make()
    return value


def scan_repeated(text: str) -> Hits:
    """`scan`, remembered: for the texts that repeat across a dataset (system prompts, tool
    outputs), as the token counter remembers theirs. A user's or an answer's text rarely repeats,
    and looking it up would hash it for nothing. The Hits are shared: read them, never change them."""
    return remember(_memo, text, lambda: scan(text))


EMPTY = Hits()  # what `scan` gives a text without any sign (most texts): shared, never changed


def scan(text: str) -> Hits:
    ac, owner = _automaton()
    matches = ac.find_matches_as_indexes(text)
    if not matches:
        return EMPTY
    h = Hits()
    # not overlapping: one sign of each kind at each place is enough (an IPv4 address needs one
    # digit-dot-digit, a card number three runs of four digits that do not overlap)
    for i, s, _ in matches:
        o = owner[i]
        if o == 4:
            h.fours.append(s)
        elif o == ".":
            h.dotted.append(s)
        elif o == ":":
            h.colons.append(s)
        elif o == "@":
            h.at = True
        elif o == "moji":
            h.mojibake = True
        elif o == "broken":
            h.broken = True
        else:
            h.names.add(o)
    return h
