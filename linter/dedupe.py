"""Duplicates, near duplicates, conflicting answers and split leakage.

Each line contributes a `Signature` (exact keys and MinHash signatures of its conversation and
of its prompt), computed in batches and cached with the line's other results. `DuplicateIndex`
holds them for every file of a run (or a workspace), is updated one line at a time, and derives
its findings from what it holds — so an index kept current edit by edit reports exactly what a
fresh one would.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
import xxhash

from .example import content_text
from .results import IndexFinding, Signature
from .to_chat import ConvertError, to_chat

MEDIA_MARK = "\x00image:"  # a token no text contains, marking an image's digest
SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}
NUM_PERM = 128
FLUSH_CHUNK = 4096  # signatures added to an LSH index per bulk_add when many are flushed at once (the
# 20k-line file's all at once held ~20 MB of temporaries at the language server's memory peak)


def comparable_turns(obj: dict, fmt: str) -> tuple[list[str], int]:
    """The example's turns as compared for duplicates (system and developer messages left out),
    and the index of the final assistant turn (-1 if none): the prompt is what comes before it."""
    if fmt == "text":
        t = obj.get("text")
        return ([t], 0) if isinstance(t, str) else ([], -1)
    if fmt == "preference":
        inp = obj.get("input")
        msgs = inp.get("messages") if isinstance(inp, dict) else None
        out = obj.get("preferred_output")
        msgs = (msgs if isinstance(msgs, list) else []) + (out if isinstance(out, list) else [])
    else:
        try:
            msgs = to_chat(obj, fmt).get("messages")
        except ConvertError:
            return [], -1
    if not isinstance(msgs, list):
        return [], -1
    turns = [m for m in msgs if isinstance(m, dict) and m.get("role") not in ("system", "developer")]
    last = max((i for i, m in enumerate(turns) if m.get("role") == "assistant"), default=-1)
    return [_render(m) for m in turns], last


def _media_key(text: str) -> int:
    """Of the images in a (normalised) text; MEDIA_MARK survives normalisation (no case, no
    space)."""
    if "\x00" not in text or MEDIA_MARK not in text:  # one character is found much faster
        return 0
    digests = sorted(part[:16] for part in text.split(MEDIA_MARK)[1:])
    return int.from_bytes(hashlib.blake2b("".join(digests).encode(), digest_size=8).digest(), "little")


def _render(m: dict) -> str:
    text = content_text(m)
    content = m.get("content")
    if isinstance(content, list):  # images are part of the prompt: same words, other chart
        for part in content:
            url = part.get("image_url") if isinstance(part, dict) else None
            url = url.get("url") if isinstance(url, dict) else None
            if isinstance(url, str):
                digest = hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
                text += f" {MEDIA_MARK}{digest}"
    calls = m.get("tool_calls")
    if calls:
        try:
            text += " " + orjson.dumps(calls).decode()
        except TypeError:
            pass
    return f"{m.get('role')}: {text}"


class Signer:
    """Turns comparable texts into Signatures, many at a time (MinHash is vectorised)."""

    def __init__(self, casefold: bool = True, near: bool = True):
        from . import minhash, textnorm  # (numpy: imported when a Signer is made, not at start-up)

        self.minhash = minhash
        self.text = textnorm
        self.casefold = casefold
        self.hasher = minhash.MinHasher(num_perm=NUM_PERM) if near else None

    def prepare(self) -> None:
        if self.hasher is not None:
            self.text.prepare()

    def sign(self, examples: list[tuple[list[str], int]], prompts: bool = True) -> list[Signature]:
        """Signatures for (turns, last assistant index) pairs. Each turn is normalised and hashed
        once; the whole, prompt and answer keys combine the turns' keys, and the prompt's
        MinHash comes from the whole text's shingles (the prompt is its prefix). `prompts=False`:
        for a run that never compares prompts (its files span fewer than two ranked splits), no
        prompt MinHash (`prompt_sig` None): it costs a third as much again as the whole's."""
        normalize, casefold = self.text.normalize, self.casefold
        wholes: list[str] = []
        cuts: list[int] = []  # where each prompt ends in its whole text
        keys: list[tuple[int, int, int]] = []
        for turns, last in examples:
            norm = [normalize(t, casefold=casefold) for t in turns]
            tk = [_key(t) for t in norm]
            whole = "\n".join(norm)
            wholes.append(whole)
            if last < 0:  # no answer: the prompt is everything
                k = _combine(tk)
                keys.append((k, k, 0))
                cuts.append(len(whole))
            else:
                keys.append((_combine(tk), _combine(tk[:last]), tk[last]))
                cuts.append(sum(map(len, norm[:last])) + last - 1 if last else 0)
        media = [_media_key(w) for w in wholes]
        if self.hasher is None or not examples:
            return [Signature(*k, b"", b"", m) for k, m in zip(keys, media, strict=True)]
        if prompts:
            whole_sigs, prompt_sigs = self.hasher.signatures_with_prefixes(wholes, cuts)
            prompt_sigs = self.minhash.to_16_bits(prompt_sigs)  # half the bytes in the cache
        else:
            whole_sigs, prompt_sigs = self.hasher.signatures(wholes), None
        whole_sigs = self.minhash.to_16_bits(whole_sigs)
        return [Signature(*keys[i], whole_sigs[i].tobytes() if _long_enough(w) else b"",
                          None if prompt_sigs is None else
                          prompt_sigs[i].tobytes() if _long_enough(w, cuts[i]) else b"", media[i])
                for i, w in enumerate(wholes)]


MIN_WORDS = 12  # below this a word 3-gram set is too small for a meaningful similarity estimate


def _long_enough(text: str, end: int | None = None) -> bool:
    """Near matching needs enough shingles: "what is 5 plus 7" and "... plus 8" share 3 of 5
    3-grams, and MinHash estimates of such tiny sets are noise. Short texts match exactly only.
    `end`: of the prefix `text[:end]`."""
    n = len(text) if end is None else end
    if n > 400:
        return True
    return len(text[:n].split(None, MIN_WORDS)) > MIN_WORDS


def _key(normalized: str) -> int:
    """A stable 64-bit key of a normalised text (XXH3: the same in every process and release of
    the same cache schema); 0 only for the empty text."""
    if not normalized:
        return 0
    return xxhash.xxh3_64_intdigest(normalized.encode("utf-8", "surrogatepass")) or 1


def _combine(keys: list[int]) -> int:
    """The key of a sequence of turns from the turns' keys; 0 only for no turns."""
    if not keys:
        return 0
    return xxhash.xxh3_64_intdigest(array("Q", keys).tobytes()) or 1


@dataclass(slots=True)
class Entry:
    path: str
    line: int  # the line's id (its number, except in the language server)
    group: str  # the split, or the path when the file has none
    rank: int  # 0 train, 1 validation, 2 test, 3 none
    sig: Signature


class DuplicateIndex:
    """Cross-line duplicate and leakage state for a set of files, updated line by line."""

    def __init__(self, split_of: dict[str, str | None], threshold: float = 0.8, order: Iterable[str] = (),
                 line_of=None, prompt_sigs: bool = True):
        """`line_of(path, line_id)` gives a line's current number: the language server keys lines by
        ids that survive insertions above them; the CLI's ids are the line numbers.
        `prompt_sigs=False`: near prompt matches will never be asked for (the files are known and
        span fewer than two ranked splits), so prompt signatures are not kept (290 bytes a line)."""
        self.prompt_sigs = prompt_sigs
        from .lsh import LSHIndex

        self.line_of = line_of or (lambda _path, line: line)
        self.split_of = split_of
        self.threshold = threshold
        self.order = {p: i for i, p in enumerate(order)}
        self.entries: dict[tuple[str, int], Entry] = {}
        # exact key → the line with it, or a set of lines when several share it (most keys have
        # one line: a set each would cost ~200 bytes a line)
        self.by_whole: dict[int, tuple | set[tuple]] = {}
        self.by_prompt: dict[int, tuple | set[tuple]] = {}
        # the keys of by_whole / by_prompt that several lines share: what findings visit, so that
        # an edit costs the repeats, not every line of the dataset
        self.shared_whole: set[int] = set()
        self.shared_prompt: set[int] = set()
        self.near_whole = LSHIndex(threshold=threshold, num_perm=NUM_PERM)
        self.near_prompt = LSHIndex(threshold=threshold, num_perm=NUM_PERM)
        self._pending: dict[tuple, Signature] = {}
        # Near prompt matches only matter across splits (prompt leakage, TL905): the prompt
        # index is built once lines of two ranked splits (train/validation/test) are present.
        self._ranked: Counter[int] = Counter()
        self._prompts_indexed = False
        # verified near pairs, kept current line by line: key → {other key: similarity}
        self._near: dict[str, dict[tuple, dict[tuple, float]]] = {"whole": {}, "prompt": {}}

    @classmethod
    def from_parts(cls, split_of: dict[str, str | None], threshold: float, order: Iterable[str],
                   entries: dict[tuple, Entry], whole_groups: Iterable[list[tuple]],
                   prompt_groups: Iterable[list[tuple]], near_whole: Iterable[tuple[tuple, tuple, float]],
                   near_prompt: Iterable[tuple[tuple, tuple, float]]) -> DuplicateIndex:
        """An index that reports what one holding every line would, built from what an engine
        found elsewhere (the Ray engine's shuffle): the entries of the lines involved only, the
        groups of two or more lines sharing an exact key, and the verified near pairs (whole
        conversations; prompts only when lines of two ranked splits are present)."""
        idx = cls(split_of, threshold, order, prompt_sigs=False)
        idx.entries = entries
        for d, shared, groups in ((idx.by_whole, idx.shared_whole, whole_groups),
                                  (idx.by_prompt, idx.shared_prompt, prompt_groups)):
            for i, keys in enumerate(groups):
                d[i] = set(keys)
                shared.add(i)  # every group holds several lines
        for name, pairs in (("whole", near_whole), ("prompt", near_prompt)):
            adj = idx._near[name]
            for a, b, sim in pairs:
                adj.setdefault(a, {})[b] = sim
                adj.setdefault(b, {})[a] = sim
        return idx

    # -- updates ------------------------------------------------------------------------------

    def add(self, path: str, line: int, text: str, result) -> None:
        sig = getattr(result, "dedupe", None)
        if sig is None or not sig.whole_key:
            self.remove(path, line)
            return
        self.put(path, line, sig)

    def put(self, path: str, line: int, sig: Signature) -> None:
        key = (path, line)
        if key in self.entries:
            self.remove(path, line)
        split = self.split_of.get(path)
        rank = SPLIT_ORDER.get(split, 3)
        if sig.prompt_sig and not self.prompt_sigs:
            sig = Signature(sig.whole_key, sig.prompt_key, sig.answer_key, sig.whole_sig, b"", sig.media_key)
        self.entries[key] = Entry(path, line, split or path, rank, sig)
        self._ranked[rank] += 1
        _add(self.by_whole, sig.whole_key, key, self.shared_whole)
        if sig.prompt_key:
            _add(self.by_prompt, sig.prompt_key, key, self.shared_prompt)
        if sig.whole_sig:
            self._pending[key] = sig  # added to the LSH indexes in bulk, when findings are asked for

    def remove(self, path: str, line: int) -> None:
        key = (path, line)
        e = self.entries.pop(key, None)
        if e is None:
            return
        self._ranked[e.rank] -= 1
        _discard(self.by_whole, e.sig.whole_key, key, self.shared_whole)
        _discard(self.by_prompt, e.sig.prompt_key, key, self.shared_prompt)
        if self._pending.pop(key, None) is None:
            self.near_whole.remove(key)
            self.near_prompt.remove(key)
            for adj in self._near.values():
                for other in adj.pop(key, {}):
                    adj.get(other, {}).pop(key, None)

    def _flush(self) -> None:
        """Add pending signatures to the LSH indexes (band hashing vectorised, one call per index)
        and bring the near pairs up to date: from all buckets at once after a large batch, by
        querying each new line otherwise — so an edit costs its own line, not the dataset."""
        import numpy as np

        from .minhash import from_16_bits

        if not self._pending:
            return
        keys = list(self._pending)
        sigs = [self._pending[k] for k in keys]
        self._pending.clear()
        if self._prompts_indexed:
            with_prompt = [(k, s.prompt_sig) for k, s in zip(keys, sigs, strict=True) if s.prompt_sig]
        elif sum(1 for rank in (0, 1, 2) if self._ranked[rank] > 0) >= 2:
            self._prompts_indexed = True  # every line's prompt, not only the pending ones
            with_prompt = [(k, e.sig.prompt_sig) for k, e in self.entries.items() if e.sig.prompt_sig]
        else:
            with_prompt = []
        batches = [("whole", self.near_whole, keys, [s.whole_sig for s in sigs]),
                   ("prompt", self.near_prompt, [k for k, _ in with_prompt], [p for _, p in with_prompt])]
        for name, lsh, ks, raw in batches:
            if not ks:
                continue
            lsh.reserve(len(ks))
            for lo in range(0, len(ks), FLUSH_CHUNK):  # in parts: their temporaries stay small
                part = raw[lo : lo + FLUSH_CHUNK]
                sigs16 = np.frombuffer(b"".join(part), dtype=np.uint16).reshape(len(part), -1)
                lsh.bulk_add(ks[lo : lo + FLUSH_CHUNK], from_16_bits(sigs16))
            adj = self._near[name]
            if len(ks) > 256:
                adj.clear()
                for a, b, sim in lsh.pairs():
                    adj.setdefault(a, {})[b] = sim
                    adj.setdefault(b, {})[a] = sim
            else:
                for k in ks:
                    for other, sim in lsh.similar(k):
                        adj.setdefault(k, {})[other] = sim
                        adj.setdefault(other, {})[k] = sim

    def _pairs(self, name: str):
        for a, nbrs in self._near[name].items():
            for b, sim in nbrs.items():
                yield a, b, sim

    def remove_path(self, path: str) -> None:
        for key in [k for k in self.entries if k[0] == path]:
            self.remove(*key)

    # -- findings -----------------------------------------------------------------------------

    def _first(self, keys) -> tuple:
        return min(keys, key=self._pos)

    def _pos(self, key: tuple) -> tuple:
        e = self.entries[key]
        return (e.rank, self.order.get(e.path, len(self.order)), e.path, self.line_of(e.path, e.line))

    def findings(self) -> list[IndexFinding]:
        self._flush()
        out: dict[tuple[tuple, str], IndexFinding] = {}
        leaked: set[tuple] = set()  # evaluation lines already reported as whole-example leaks
        reported: set[tuple] = set()  # lines already reported as duplicates of something

        def emit(key, code, message, other, note):
            e, o = self.entries[key], self.entries[other]
            out.setdefault((key, code), IndexFinding(e.path, self.line_of(e.path, e.line), code, message,
                                                     ((o.path, self.line_of(o.path, o.line), note),)))

        def where(other):
            o = self.entries[other]
            return f"{o.path}:{self.line_of(o.path, o.line)}"

        # exact: whole conversation
        for key, e, earlier, source in self._repeats(self.by_whole, self.shared_whole):
            if source is not None:
                emit(key, "TL904", f"leaks {self.entries[source].group} data: repeats {where(source)} exactly",
                     source, "the example it repeats")
                leaked.add(key)
                continue
            same = [k for k in earlier if self.entries[k].group == e.group]
            if same:
                emit(key, "TL901", f"exact duplicate of {where(same[0])}", same[0], "first occurrence")
                reported.add(key)

        # near: whole conversation; each line reports its most similar earlier partner
        for later, first, sim in self._nearest(self._pairs("whole"), same_key="whole_key"):
            el, ef = self.entries[later], self.entries[first]
            if el.rank > ef.rank and el.rank < 3 and ef.rank < 3:
                if later not in leaked:
                    emit(later, "TL904", f"leaks {ef.group} data: nearly repeats {where(first)} "
                         f"(estimated similarity {sim:.2f})", first, "the example it nearly repeats")
                    leaked.add(later)
            elif el.group == ef.group and later not in reported:
                emit(later, "TL902", f"near duplicate of {where(first)} (estimated similarity {sim:.2f})",
                     first, "the similar example")
                reported.add(later)

        # prompts: conflicting answers (same split) and prompt-only leakage (across splits)
        for key, e, earlier, source in self._repeats(self.by_prompt, self.shared_prompt):
            if source is not None:
                if key not in leaked:
                    emit(key, "TL905", f"the prompt repeats the prompt of {where(source)} "
                         f"({self.entries[source].group} data) exactly", source, "the prompt it repeats")
                    leaked.add(key)
                continue
            if key in reported:
                continue  # already a (near) duplicate: one finding per line says enough
            conflicting = [k for k in earlier if self.entries[k].group == e.group
                           and self.entries[k].sig.answer_key != e.sig.answer_key]
            if conflicting:
                emit(key, "TL903", f"same prompt as {where(conflicting[0])} but a different answer",
                     conflicting[0], "the other answer")
        for later, first, sim in self._nearest(self._pairs("prompt"), same_key="prompt_key", cross_split=True):
            ef = self.entries[first]
            if later in leaked:
                continue
            emit(later, "TL905", f"the prompt nearly repeats the prompt of {where(first)} ({ef.group} data, "
                 f"estimated similarity {sim:.2f})", first, "the prompt it nearly repeats")
            leaked.add(later)
        return sorted(out.values(), key=lambda f: (f.path, f.line, f.code))

    def _nearest(self, pairs, same_key: str, cross_split: bool = False):
        """(later, first, similarity) for each line with a near partner before it: one it leaks
        from if any, else the most similar one of its split (ties: the earliest), in line order, so
        findings depend only on the index's contents, not on the order lines were added. Exact
        matches are left to the exact pass."""
        best: dict[tuple, tuple] = {}
        for a, b, sim in pairs:
            ea, eb = self.entries[a], self.entries[b]
            if getattr(ea.sig, same_key) == getattr(eb.sig, same_key) or ea.sig.media_key != eb.sig.media_key:
                continue  # exact matches are the exact pass's; other images make other examples
            first, later = (a, b) if self._pos(a) <= self._pos(b) else (b, a)
            el, ef = self.entries[later], self.entries[first]
            if cross_split and not (ef.rank < el.rank < 3):
                continue
            leak = ef.rank < el.rank < 3
            if not leak and el.group != ef.group:
                continue  # neither a leak nor the same split: nothing to report
            cand = (not leak, -round(sim, 6), self._pos(first), first)  # a leak matters most
            if later not in best or cand < best[later]:
                best[later] = cand
        for later in sorted(best, key=self._pos):
            _, neg_sim, _, first = best[later]
            yield later, first, -neg_sim

    def _repeats(self, by_key: dict[int, tuple | set[tuple]], shared: set[int]):
        """Each line that shares an exact key with earlier lines (in the index's order): the
        line's key, its entry, those earlier lines, and the one it leaks from (None if none).
        `shared`: the keys of `by_key` that several lines have."""
        for k in shared:
            keys = by_key[k]
            ordered = sorted(keys, key=self._pos)
            for i, key in enumerate(ordered[1:], 1):
                e = self.entries[key]
                earlier = ordered[:i]
                yield key, e, earlier, self._source_for(e, earlier)

    def _source_for(self, e: Entry, earlier: list) -> tuple | None:
        """The earlier entry an evaluation-split entry leaks from (train before validation before
        test), if any."""
        if e.rank == 0 or e.rank == 3:
            return None
        for k in earlier:
            o = self.entries[k]
            if o.rank < e.rank:
                return k
        return None


def _add(d: dict, k: int, key: tuple, shared: set[int]) -> None:
    have = d.get(k)
    if have is None:
        d[k] = key
    elif isinstance(have, set):
        have.add(key)
    elif have != key:
        d[k] = {have, key}
        shared.add(k)


def _discard(d: dict, k: int, key: tuple, shared: set[int]) -> None:
    have = d.get(k)
    if isinstance(have, set):
        have.discard(key)
        if len(have) == 1:
            d[k] = next(iter(have))
            shared.discard(k)
    elif have == key:
        del d[k]
