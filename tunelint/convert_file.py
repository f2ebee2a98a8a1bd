"""`tunelint convert`: a JSONL or JSON-array file in another format → chat-format JSONL."""

from __future__ import annotations

from collections import Counter

import orjson

from tunelint.linter.atomic import write_atomically
from tunelint.linter.example import detect_format
from tunelint.linter.source import NotRegularFile, open_regular
from tunelint.linter.to_chat import ConvertError, to_chat


class ConvertFailed(ValueError):
    pass


def _records(source: str):
    """(line, object) pairs from JSONL, or from a JSON array / object document."""
    try:
        with open_regular(source) as f:
            data = f.read()
    except NotRegularFile as e:
        raise ConvertFailed(str(e)) from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, list):
        yield from ((i + 1, o) for i, o in enumerate(doc))
        return
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise ConvertFailed(f"{source}:{number}: invalid JSON ({e.msg}); run `tunelint check` first") from None


def convert_file(source: str, output: str) -> tuple[int, Counter]:
    """Convert every record; write OUTPUT atomically only if all of them convert."""
    out_lines = []
    kinds: Counter = Counter()
    for where, obj in _records(source):
        if not isinstance(obj, dict):
            raise ConvertFailed(f"{source}: item {where} is not an object")
        fmt = detect_format(obj)
        if fmt is None:
            raise ConvertFailed(f"{source}: item {where} has no known format (keys: {', '.join(list(obj)[:6])})")
        try:
            chat = to_chat(obj, fmt)
        except ConvertError as e:
            raise ConvertFailed(f"{source}: item {where}: {e}") from None
        kinds[fmt] += 1
        try:
            out_lines.append(orjson.dumps(chat))
        except TypeError as e:  # nested deeper than orjson writes (254 levels): `tunelint check` says where
            raise ConvertFailed(f"{source}: item {where}: cannot be written as JSON ({e}); "
                                "run `tunelint check`") from None
    if not out_lines:
        raise ConvertFailed(f"{source}: no examples to convert")
    write_atomically(output, b"\n".join(out_lines) + b"\n")
    return len(out_lines), kinds
