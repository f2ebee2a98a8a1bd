"""The LSP benchmark's data and edits: a generated chat file of ~800-byte lines, and one
deterministic sequence of single-character edits on it, the same for every server.

    python bench/_lsp_data.py 20000     # writes bench/data/lsp-20000.jsonl on its own
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402

GENERATOR = "lsp-1"  # bump when the generated file's recipe changes


# --------------------------------------------------------------------------------------------
# the data: ~800 bytes per line, the same text model as datagen.py


class ShortChatGen(datagen.ChatGen):
    """datagen's examples with shorter system prompts and each example trimmed to a log-normal
    target size (median ~700 bytes, mean ~800, p95 ~1.5 KB); tool-use examples are kept whole."""

    def _system_prompt(self, i: int | None = None) -> str:
        rng, t = self.rng, self.text
        persona = rng.choice(datagen._PERSONAS).format(x=rng.choice(self.products))
        target = int(min(600, max(40, rng.lognormvariate(math.log(120), 0.6))))
        s = f"You are {persona}."
        while len(s) < target:
            s += " " + t.sentence()
        return s

    def example(self) -> tuple[dict, bool]:
        obj, tools = super().example()
        if not tools:
            target = int(min(4000, max(250, self.rng.lognormvariate(math.log(700), 0.45))))
            _trim(obj, target)
        return obj, tools


def _trim(obj: dict, target: int) -> None:
    for _ in range(8):
        size = len(datagen._dumps(obj).encode())
        if size <= target:
            return
        msgs = [
            m
            for m in obj["messages"]
            if isinstance(m.get("content"), str)
            and m["role"] != "system"
            and len(m["content"]) > 40
        ]
        if not msgs:
            return
        m = max(msgs, key=lambda m: len(m["content"]))
        c = m["content"]
        keep = max(30, len(c) - (size - target))
        cut = c.rfind(" ", 0, keep)
        m["content"] = c[: cut if cut > 20 else keep].rstrip() + "."


def generate(lines: int, out_dir: Path, seed: int, force: bool) -> dict:
    """Write lsp-N.jsonl (and lsp-N.meta.json); reused when the meta matches."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path, meta_path = out_dir / f"lsp-{lines}.jsonl", out_dir / f"lsp-{lines}.meta.json"
    want = {
        "generator": GENERATOR,
        "datagen_version": datagen.GENERATOR_VERSION,
        "seed": seed,
        "lines": lines,
    }
    if not force and path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            if (
                all(meta.get(k) == v for k, v in want.items())
                and path.stat().st_size == meta["bytes"]
            ):
                return {**meta, "path": str(path)}
        except (ValueError, KeyError, OSError):
            pass
    gen = ShortChatGen(seed)
    fault_rng = random.Random(seed * 7919 + 1)
    kinds = ("trailing_comma", "wrong_role", "missing_assistant")
    faults = 0
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for _ in range(lines):
            obj, _tools = gen.example()
            line = datagen._dumps(obj)
            if fault_rng.random() < datagen.FAULT_RATE:
                faults += 1
                line = datagen._faulty(obj, kinds[fault_rng.randrange(3)], fault_rng)
            f.write(line + "\n")
    os.replace(tmp, path)
    meta = {**want, "faulty_lines": faults, "bytes": path.stat().st_size, "path": str(path)}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


# --------------------------------------------------------------------------------------------
# the edits: the same sequence for every server


@dataclass
class Edit:
    kind: str  # "letter" (stays valid JSON), "break" (} -> ]), "repair" (] -> } again)
    line: int
    col16: int  # UTF-16 column (what LSP positions count)
    old: str
    new: str


_CONTENT = re.compile(r'"content": "')


def _utf16(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-16-le", "surrogatepass")) // 2


def _string_letters(line: str, start: int) -> list[int]:
    """Indexes of the ASCII letters of the JSON string that starts at `start` (just after its
    opening quote), leaving out escape sequences (replacing the n of \\n would break the JSON)."""
    out, i, n = [], start, len(line)
    while i < n:
        c = line[i]
        if c == "\\":
            i += 6 if line[i + 1 : i + 2] == "u" else 2
            continue
        if c == '"':
            break
        if c.isascii() and c.isalpha():
            out.append(i)
        i += 1
    return out


def make_edits(lines: list[str], count: int, seed: int) -> list[Edit]:
    """A deterministic sequence of single-character edits, generated against a local copy of the
    document (updated as it goes, as an editor would be)."""
    rng = random.Random(seed)
    doc = list(lines)
    broken: dict[int, str] = {}
    edits: list[Edit] = []
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(edits) < count:
        r = rng.random()
        if r < 0.08 and broken:  # repair a line an earlier edit broke
            ln = rng.choice(sorted(broken))
            line = doc[ln]
            i = len(line) - 1
            e = Edit("repair", ln, _utf16(line[:i]), line[i], broken.pop(ln))
        elif r < 0.16:  # break a valid line: its closing } becomes ]
            ln = rng.randrange(len(doc))
            line = doc[ln]
            if ln in broken or not line.endswith("}"):
                continue
            try:
                json.loads(line)
            except ValueError:
                continue
            i = len(line) - 1
            broken[ln] = "}"
            e = Edit("break", ln, _utf16(line[:i]), "}", "]")
        else:  # replace one letter inside a message's content with another letter
            ln = rng.randrange(len(doc))
            line = doc[ln]
            starts = [m.end() for m in _CONTENT.finditer(line)]
            if not starts:
                continue
            cands = _string_letters(line, rng.choice(starts))
            if not cands:
                continue
            i = rng.choice(cands)
            old = line[i]
            new = rng.choice([c for c in letters if c != old.lower()])
            new = new.upper() if old.isupper() else new
            e = Edit("letter", ln, _utf16(line[:i]), old, new)
        doc[e.line] = doc[e.line][:i] + e.new + doc[e.line][i + 1 :]
        edits.append(e)
    return edits


if __name__ == "__main__":
    meta = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 20000, HERE / "data", 1234, False)
    print(json.dumps(meta, indent=2))
