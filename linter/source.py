"""Bytes → lines. Streams the file (bounded memory on files larger than RAM) and turns what
happens below JSON (encoding, BOM, line endings, binary data, JSON documents given as JSONL)
into findings instead of tracebacks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

BOM = b"\xef\xbb\xbf"
WHOLE_FILE_PARSE_LIMIT = 256 * 1024 * 1024
READ_BUFFER = 1 << 20  # bytes read at a time: the default 8 KB is three lines of a chat dataset


@dataclass(slots=True)
class SourceLine:
    number: int  # 1-based
    text: str | None  # decoded, without line ending or BOM; None if it could not be decoded
    offset: int  # byte offset of the line in the file
    size: int  # bytes, without the line ending
    crlf: bool = False
    bom: bool = False
    problem: tuple[str, int, int, str] | None = None  # (code, start, end, message)
    data: bytes | None = None  # the text's UTF-8 bytes, when read from a file (cache keys use them)


@dataclass(slots=True)
class FileProblem:
    """A problem with the file as a whole; when `fatal`, its lines are not read."""

    code: str
    message: str
    fatal: bool = True


def check_file(path: str) -> FileProblem | None:
    """Problems visible before reading lines: missing, directory, empty, binary, JSON document."""
    if not os.path.exists(path):
        return FileProblem("TL001", "no such file")
    if os.path.isdir(path):
        return FileProblem("TL001", "is a directory (give files, or a directory containing .jsonl files)")
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError as e:
        return FileProblem("TL001", f"cannot read: {e.strerror or e}")
    return check_head(head, size, lambda: _read_all(path))


def _read_all(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def check_head(head: bytes, size: int, read_all) -> FileProblem | None:
    if size == 0 or not head.strip(b" \t\r\n" + BOM):
        return FileProblem("TL003", "the file is empty" if size == 0 else "the file has only whitespace")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return FileProblem("TL002", "the file is UTF-16 encoded; JSONL must be UTF-8 (re-save it as UTF-8)")
    if b"\x00" in head:
        return FileProblem("TL002", "the file contains NUL bytes: it is binary (an archive, parquet or arrow file?), "
                                    "not JSONL")
    first = head.lstrip(BOM + b" \t\r\n")[:1]
    if first in (b"[", b"{") and size <= WHOLE_FILE_PARSE_LIMIT:
        return _json_document(head, read_all)
    return None


def _json_document(head: bytes, read_all) -> FileProblem | None:
    """TL013 if the whole file is one JSON document that is not JSONL."""
    body = head.lstrip(BOM + b" \t\r\n")
    first_line = body.split(b"\n", 1)[0].strip()
    if body[:1] == b"{" and first_line.endswith(b"}"):
        return None  # looks like JSONL: an object per line; the per-line reader decides
    try:
        doc = orjson.loads(read_all().lstrip(BOM))
    except orjson.JSONDecodeError:
        if first_line in (b"{", b"["):
            return FileProblem("TL013", f"line 1 is just {first_line.decode()!r}: this looks like pretty-printed JSON "
                               "(values spread over several lines), not JSON Lines with one example per line")
        return None
    if isinstance(doc, list):
        from .example import FORMAT_LABELS, detect_format

        fmt = detect_format(doc[0]) if doc and isinstance(doc[0], dict) else None
        what = f" of {FORMAT_LABELS[fmt]} examples" if fmt else ""
        layout = "pretty-printed over many lines" if b"\n" in head.strip() else "on one line"
        return FileProblem("TL013", f"the file is a JSON array of {len(doc)} items{what}, {layout}, not JSON Lines; "
                           "`tunelint convert FILE OUT.jsonl` writes one example per line")
    if isinstance(doc, dict):
        return FileProblem("TL013", "the file is one pretty-printed JSON object spread over many lines, not JSON Lines "
                           "(one example per line); `tunelint convert FILE OUT.jsonl` rewrites it")
    return None


def read_lines(path: str) -> Iterator[SourceLine]:
    with open(path, "rb", buffering=READ_BUFFER) as f:
        yield from split_lines(f)


def split_lines(chunks) -> Iterator[SourceLine]:
    """Lines from an iterable of byte lines (an open binary file iterates that way)."""
    offset = 0
    for number, raw in enumerate(chunks, 1):
        size_with_eol = len(raw)
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        crlf = raw.endswith(b"\r")
        if crlf:
            raw = raw[:-1]
        bom = number == 1 and raw.startswith(BOM)
        if bom:
            raw = raw[len(BOM):]
        size = len(raw)
        try:
            text = raw.decode("utf-8")
            problem = None
        except UnicodeDecodeError as e:
            text = None
            col = len(raw[: e.start].decode("utf-8", "replace")) + (1 if bom else 0)
            bad = raw[e.start : e.start + 1].hex()
            problem = ("TL004", col, col + 1,
                       f"invalid UTF-8 (byte 0x{bad} at column {col + 1}): the file may be Latin-1 or Windows-1252, "
                       "or cut inside a character")
        yield SourceLine(number, text, offset, size, crlf, bom, problem, raw if text is not None else None)
        offset += size_with_eol


def text_lines(text: str) -> Iterator[SourceLine]:
    """Lines of an in-memory document (what an editor holds), same shape as read_lines."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    offset = 0
    for number, line in enumerate(lines, 1):
        yield editor_line(number, line, offset)
        offset += len(line) + 1


def editor_line(number: int, line: str, offset: int = 0) -> SourceLine:
    """One line of an editor buffer (without its "\n"): CR and, on line 1, a BOM taken off."""
    crlf = line.endswith("\r")
    body = line[:-1] if crlf else line
    bom = number == 1 and body.startswith("\ufeff")
    if bom:
        body = body[1:]
    size = len(body) if body.isascii() else len(body.encode("utf-8", "surrogatepass"))
    return SourceLine(number, body, offset, size, crlf, bom)
